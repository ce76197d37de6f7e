package structuredlogreceiver

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
)

type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *statusHost) last() *componentstatus.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == 0 {
		return nil
	}
	return h.events[len(h.events)-1]
}

// TestFolderStatus: a folder of the patterns that cannot be read (here a
// regular file where the folder should be: the tests run as root, which
// permissions do not stop) is a recoverable error; once it is a folder
// again the status is OK.
func TestFolderStatus(t *testing.T) {
	folder := filepath.Join(t.TempDir(), "logs")
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Include = []string{filepath.Join(folder, "*.log")}
	cfg.PollInterval = 20 * time.Millisecond
	host := &statusHost{Host: componenttest.NewNopHost()}
	startReceiver(t, cfg, &sink{}, host)

	waitStatus := func(want componentstatus.Status, text string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ev := host.last()
			if ev != nil && ev.Status() == want && (text == "" || (ev.Err() != nil && strings.Contains(ev.Err().Error(), text))) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("status %+v, want %v %q", ev, want, text)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStatus(componentstatus.StatusOK, "")
	if err := os.RemoveAll(folder); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(folder, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitStatus(componentstatus.StatusRecoverableError, "cannot read the folder "+folder)
	if err := os.Remove(folder); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	waitStatus(componentstatus.StatusOK, "")
}
