package health

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// host records the events reported to it, as the collector's host does.
type host struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *host) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *host) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.events {
		s := ev.Status().String()
		if v, ok := ev.Attributes().Get(StateKey); ok {
			s += "/" + v.Str()
		}
		if ev.Err() != nil {
			s += ": " + ev.Err().Error()
		}
		out = append(out, s)
	}
	return out
}

func TestReportsChangesOnly(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	r := New(component.TelemetrySettings{Logger: zap.New(core)})
	h := &host{}
	r.State(StateStandby) // before Start: kept
	r.Start(h)
	r.State(StateStandby)
	r.State(StateLeading)
	r.Recoverable(errors.New("connection refused"))
	// The clock of a recoverable error must not restart on every retry.
	r.Recoverable(errors.New("connection refused again"))
	r.OK()
	r.OK()
	r.Permanent("MongoDB must run as a replica set", errors.New("no change streams"))
	r.Permanent("MongoDB must run as a replica set", errors.New("no change streams"))
	r.OK() // no way back from a permanent error
	assert.Equal(t, []string{
		"StatusOK/standby",
		"StatusOK/leading",
		"StatusRecoverableError: connection refused",
		"StatusOK",
		"StatusPermanentError: no change streams",
	}, h.got())
	require.Equal(t, 1, logs.Len(), "the permanent error is logged once")
	assert.Equal(t, "MongoDB must run as a replica set", logs.All()[0].Message)
	st, _ := r.Status()
	assert.Equal(t, componentstatus.StatusPermanentError, st)
}

func TestHostWithoutStatusReporting(t *testing.T) {
	r := New(component.TelemetrySettings{Logger: zap.NewNop()})
	r.Start(componentHost{})
	r.Recoverable(errors.New("x")) // must not panic
	st, _ := r.Status()
	assert.Equal(t, componentstatus.StatusRecoverableError, st)
}

type componentHost struct{ component.Host }
