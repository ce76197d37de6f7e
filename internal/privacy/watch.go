package privacy

import (
	"os"
	"sync"
	"time"
)

// Watcher re-reads a privacy file when it changes. It polls the file's
// modification time, size and identity (a replaced file counts as changed)
// every interval, so it needs no inotify and works on any file system.
type Watcher struct {
	path     string
	interval time.Duration
	onChange func(Consent, error)

	last fileState
	stop chan struct{}
	wg   sync.WaitGroup
}

type fileState struct {
	info os.FileInfo // nil: missing or unreadable
}

func (s fileState) same(info os.FileInfo) bool {
	if s.info == nil || info == nil {
		return s.info == nil && info == nil
	}
	return os.SameFile(s.info, info) && s.info.ModTime().Equal(info.ModTime()) && s.info.Size() == info.Size()
}

// NewWatcher returns a watcher of path that calls onChange with every
// version of the file it reads: the consent and the error of ReadFile (a
// missing file is an error, and no consent). interval 0 reads the file only
// once, in Start.
func NewWatcher(path string, interval time.Duration, onChange func(Consent, error)) *Watcher {
	return &Watcher{path: path, interval: interval, onChange: onChange}
}

// Start reads the file once, synchronously, and starts polling.
func (w *Watcher) Start() {
	info, _ := os.Stat(w.path)
	w.last = fileState{info: info}
	w.onChange(ReadFile(w.path))
	if w.interval <= 0 {
		return
	}
	w.stop = make(chan struct{})
	w.wg.Add(1)
	go w.poll(w.stop)
}

// Stop ends polling and waits for it. It is safe to call without Start.
func (w *Watcher) Stop() {
	if w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
	w.wg.Wait()
}

func (w *Watcher) poll(stop <-chan struct{}) {
	defer w.wg.Done()
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		w.check()
	}
}

// check re-reads the file when its state differs from the last read.
func (w *Watcher) check() {
	info, _ := os.Stat(w.path)
	if w.last.same(info) {
		return
	}
	w.last = fileState{info: info}
	w.onChange(ReadFile(w.path))
}
