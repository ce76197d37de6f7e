package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// defaultsEnv runs testdata/defaults.yaml: structured_log → cloudevents
// with default settings.
type defaultsEnv struct {
	logDir, storageDir, deadLetterDir string
	healthPort                        int
	queueStorage                      string // "null" or "file_storage"
	sink                              *linesSink
}

func newDefaultsEnv(t *testing.T, persistentQueue bool) *defaultsEnv {
	e := &defaultsEnv{
		logDir: t.TempDir(), storageDir: t.TempDir(), deadLetterDir: t.TempDir(),
		healthPort: testutil.FreePorts(t, 1)[0], queueStorage: "null", sink: newLinesSink(t),
	}
	if persistentQueue {
		e.queueStorage = "file_storage"
	}
	return e
}

func (e *defaultsEnv) start(t *testing.T) *testutil.Collector {
	t.Helper()
	c := testutil.StartCollector(t, testutil.CollectorBinary(t), []string{
		"COURIER_E2E_LOG_DIR=" + e.logDir,
		"COURIER_E2E_STORAGE_DIR=" + e.storageDir,
		"COURIER_E2E_DEAD_LETTER_DIR=" + e.deadLetterDir,
		"COURIER_E2E_SINK_URL=" + e.sink.URL,
		fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", e.healthPort),
		"COURIER_E2E_QUEUE_STORAGE=" + e.queueStorage,
	}, "--config=testdata/defaults.yaml")
	c.WaitUntil(deliveryTimeout, "collector healthy", func() error {
		return httpGet200(fmt.Sprintf("http://127.0.0.1:%d/", e.healthPort))
	})
	return c
}

// TestDefaultsKill9 is DESIGN.md §4.1 with default settings: the sink
// refuses everything while the events are read, the collector is killed
// with SIGKILL, and the next one, with a healthy sink, delivers every
// event. With the default memory queue the seek tag never passed the
// undelivered events; with a persistent queue the queue kept them.
func TestDefaultsKill9(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("persistent_queue=%v", persistent), func(t *testing.T) {
			e := newDefaultsEnv(t, persistent)
			want := map[string]bool{}
			writeEvents(t, structuredlog.Options{Dir: e.logDir, Name: "app.log", Source: "e2e@defaults"}, "d", 5000, want)
			e.sink.refuse.Store(http.StatusServiceUnavailable)
			c := e.start(t)
			c.WaitUntil(deliveryTimeout, "the sink refusing the events", func() error {
				if n := e.sink.refused.Load(); n < 1000 {
					return fmt.Errorf("%d requests refused", n)
				}
				return nil
			})
			c.Kill()
			if n := e.sink.distinct(); n != 0 {
				t.Fatalf("%d events delivered while the sink refused everything", n)
			}

			e.sink.refuse.Store(0)
			c = e.start(t)
			c.WaitUntil(2*deliveryTimeout, "every event delivered after the restart", func() error { return e.sink.check(want) })
			t.Logf("%d duplicates", e.sink.duplicates())
			if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			if dl := deadLetters(t, e.deadLetterDir); len(dl) != 0 {
				t.Fatalf("%d events dead-lettered, want none: %v", len(dl), dl)
			}
		})
	}
}

// TestDefaultsPoisonEvents: the sink answers 400 for a few events. They are
// dead-lettered with the sink's answer, every other event is delivered, and
// the seek tag moves past all of them: a restart delivers nothing again.
func TestDefaultsPoisonEvents(t *testing.T) {
	e := newDefaultsEnv(t, false)
	want := map[string]bool{}
	path := filepath.Join(e.logDir, "app.log")
	writeEvents(t, structuredlog.Options{Dir: e.logDir, Name: "app.log", Source: "e2e@poison"}, "p", 500, want)
	e.sink.reject = map[string]bool{}
	for id := range want {
		if len(e.sink.reject) == 5 {
			break
		}
		e.sink.reject[id] = true
		delete(want, id)
	}
	c := e.start(t)
	c.WaitUntil(deliveryTimeout, "every good event delivered", func() error { return e.sink.check(want) })
	c.WaitUntil(deliveryTimeout, "the seek tag at the end of the file", func() error {
		off, err := seekTagOf(path, "seek")
		if err != nil {
			return err
		}
		if st, err := os.Stat(path); err != nil || off != st.Size() {
			return fmt.Errorf("seek tag at %d", off)
		}
		return nil
	})
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	dead := map[string]string{}
	for _, l := range deadLetters(t, e.deadLetterDir) {
		dead[l.Event.ID] = l.Reason
	}
	for id := range e.sink.reject {
		if dead[id] != "rejected" {
			t.Errorf("poison event %s: dead-letter reason %q, want rejected", id, dead[id])
		}
	}
	if len(dead) != len(e.sink.reject) {
		t.Errorf("%d events dead-lettered, want %d", len(dead), len(e.sink.reject))
	}

	// Nothing is read again: the checkpoint moved past the poison events.
	before := e.sink.refused.Load()
	c = e.start(t)
	time.Sleep(1500 * time.Millisecond) // more than a poll_interval
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d, r := e.sink.duplicates(), e.sink.refused.Load()-before; d != 0 || r != 0 {
		t.Fatalf("after a restart: %d events delivered again, %d requests refused again", d, r)
	}
}

type deadLetter struct {
	Reason string `json:"reason"`
	Status int    `json:"status"`
	Event  struct {
		ID string `json:"id"`
	} `json:"event"`
}

// deadLetters reads every dead-letter line in dir.
func deadLetters(t *testing.T, dir string) []deadLetter {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []deadLetter
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var l deadLetter
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, l)
		}
		_ = f.Close()
	}
	return out
}

// seekTagOf reads the seek tag name from path's header.
func seekTagOf(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, err
	}
	h, err := structuredlog.ParseHeader([]byte(line))
	if err != nil {
		return 0, err
	}
	off, ok := h.Seek(name)
	if !ok {
		return 0, fmt.Errorf("no seek tag %q", name)
	}
	return off, nil
}
