package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/cloudevent"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// ceSink is a CloudEvents sink on loopback that parses every request with
// the CloudEvents SDK and counts deliveries per event id. While down it
// answers 503 to everything.
type ceSink struct {
	*httptest.Server
	down     atomic.Bool
	attempts atomic.Int64
	mu       sync.Mutex
	ids      map[string]int
	errs     []string
}

func newCESink(t *testing.T) *ceSink {
	s := &ceSink{ids: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.attempts.Add(1)
		if s.down.Load() {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.errs = append(s.errs, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.ids[ev.ID()]++
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

// missing returns nil once every id in want has been delivered.
func (s *ceSink) missing(want []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	first := ""
	for _, id := range want {
		if s.ids[id] == 0 {
			if n == 0 {
				first = id
			}
			n++
		}
	}
	if n > 0 || len(s.errs) > 0 {
		return fmt.Errorf("%d of %d events not delivered (first %s); sink errors: %q", n, len(want), first, s.errs)
	}
	return nil
}

// distinct is the number of different event ids delivered.
func (s *ceSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// ceLogs makes n CloudEvents as log records, ids prefix-0 … prefix-(n-1).
func ceLogs(t *testing.T, prefix string, n int) (plog.Logs, []string) {
	t.Helper()
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var d cloudevent.Decoder
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		ev := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"nvsentinel://e2e/healthevents","type":"com.nvidia.nvsentinel.health.v1",`+
			`"time":"2026-07-14T10:30:00Z","data":{"healthEvent":{"nodeName":"node-%d","recommendedAction":"RESTART_VM"}}}`, ids[i], i)
		if err := d.Decode([]byte(ev), lrs.AppendEmpty()); err != nil {
			t.Fatal(err)
		}
	}
	return ld, ids
}

// TestCloudEventsSurvivesKill: events accepted while the sink is down sit in
// the persistent sending queue; the collector is killed with SIGKILL,
// restarted on the same storage, and every event reaches the sink once it
// is back.
func TestCloudEventsSurvivesKill(t *testing.T) {
	binary := testutil.CollectorBinary(t)
	sink := newCESink(t)
	sink.down.Store(true)
	ports := testutil.FreePorts(t, 2)
	env := []string{
		fmt.Sprintf("COURIER_E2E_OTLP_HTTP_PORT=%d", ports[0]),
		fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", ports[1]),
		"COURIER_E2E_SINK_URL=" + sink.URL,
		"COURIER_E2E_STORAGE_DIR=" + t.TempDir(),
	}
	config := "--config=testdata/cloudevents_persistent.yaml"
	healthURL := fmt.Sprintf("http://127.0.0.1:%d/", ports[1])
	otlpURL := fmt.Sprintf("http://127.0.0.1:%d/v1/logs", ports[0])

	c := testutil.StartCollector(t, binary, env, config)
	c.WaitUntil(deliveryTimeout, "collector healthy", func() error { return httpGet200(healthURL) })

	var want []string
	for batch := range 5 {
		ld, ids := ceLogs(t, fmt.Sprintf("kill-%d", batch), 40)
		if err := postLogs(otlpURL, ld); err != nil {
			t.Fatalf("send batch %d: %v", batch, err)
		}
		want = append(want, ids...)
	}
	// The sink has refused deliveries: the events are only in the queue.
	c.WaitUntil(deliveryTimeout, "the exporter tries the sink", func() error {
		if sink.attempts.Load() < 10 {
			return fmt.Errorf("%d attempts so far", sink.attempts.Load())
		}
		return nil
	})
	if err := sink.missing(want[:1]); err == nil {
		t.Fatal("the sink is down, yet an event was delivered")
	}

	c.Kill()

	sink.down.Store(false)
	c = testutil.StartCollector(t, binary, env, config)
	c.WaitUntil(deliveryTimeout, "every event accepted before the kill is delivered after the restart", func() error {
		return sink.missing(want)
	})
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown on SIGTERM: %v", err)
	}
}
