package cloudeventsexporter

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/internal/health"
)

type statusHost struct {
	component.Host
	mu       sync.Mutex
	statuses []componentstatus.Status
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.statuses = append(h.statuses, ev.Status())
}

func TestSinkHealth(t *testing.T) {
	h := &statusHost{}
	rep := health.New(component.TelemetrySettings{Logger: zap.NewNop()})
	rep.Start(h)
	sh := newSinkHealth(rep, 20*time.Millisecond)
	fail := attemptResult{kind: attemptRetryable, status: 503, err: errors.New("503 Service Unavailable")}
	ok := attemptResult{kind: attemptOK, status: 200}

	sh.attempted(fail, "http://sink")
	assert.Empty(t, h.statuses, "a failure shorter than failing_after is no error")
	time.Sleep(30 * time.Millisecond)
	sh.attempted(fail, "http://sink")
	sh.attempted(fail, "http://sink")
	sh.attempted(attemptResult{kind: attemptPermanent, status: 400}, "http://sink")
	sh.attempted(ok, "http://sink")
	sh.attempted(ok, "http://sink")
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, h.statuses)

	refused := attemptResult{kind: attemptAuth, status: 401, err: errors.New("401 Unauthorized")}
	sh.refused(refused, "http://sink")
	sh.refused(refused, "http://sink")
	sh.attempted(ok, "http://sink") // a success in between: not every request is refused
	sh.refused(refused, "http://sink")
	sh.refused(refused, "http://sink")
	assert.Len(t, h.statuses, 2)
	sh.refused(refused, "http://sink")
	assert.Equal(t, componentstatus.StatusPermanentError, h.statuses[len(h.statuses)-1])
}
