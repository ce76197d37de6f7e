package tailer

import (
	"context"
	"errors"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// watch wakes the poll loop whenever something changes in dirs, so that new
// lines are read well before the next poll_interval tick. Notifications are
// only a hint: every change is also found by polling, so a folder that
// cannot be watched (missing, inotify limits) costs latency, not events.
func (t *Tailer) watch(ctx context.Context, dirs []string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	var errs error
	watched := 0
	for _, dir := range dirs {
		if err := w.Add(dir); err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		watched++
	}
	if watched == 0 {
		_ = w.Close()
		return errs
	}
	if errs != nil {
		t.log.Warn("Some folders cannot be watched; relying on poll_interval for them", zap.Error(errs))
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer func() { _ = w.Close() }()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
					continue
				}
				t.wakeUp()
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflowed queue lost events; a poll finds what they said.
				t.log.Debug("File-system notification error", zap.Error(err))
				t.wakeUp()
			}
		}
	}()
	return nil
}
