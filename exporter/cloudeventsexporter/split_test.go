package cloudeventsexporter

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// sizeLimitedSink answers 413 to a body over limit bytes before reading it,
// as nginx does with client_max_body_size, and records the event ids of the
// bodies it accepts.
type sizeLimitedSink struct {
	*httptest.Server
	limit int64

	mu       sync.Mutex
	ids      map[string]int // id → times received
	accepted []int          // body sizes
	refused  int
}

func newSizeLimitedSink(t *testing.T, limit int64) *sizeLimitedSink {
	s := &sizeLimitedSink{limit: limit, ids: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.limit {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.accepted = append(s.accepted, len(body))
		for _, id := range eventIDs(body) {
			s.ids[id]++
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

// eventIDs reads the ids of the events of a body of any encoding: one
// event, JSON lines, or a JSON array (NVDF events carry theirs in _id).
func eventIDs(body []byte) []string {
	var evs []map[string]any
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		_ = json.Unmarshal(b, &evs)
	} else {
		d := json.NewDecoder(bytes.NewReader(body))
		for {
			var ev map[string]any
			if d.Decode(&ev) != nil {
				break
			}
			evs = append(evs, ev)
		}
	}
	var ids []string
	for _, ev := range evs {
		id, ok := ev["id"].(string)
		if !ok {
			id, _ = ev["_id"].(string)
		}
		ids = append(ids, id)
	}
	return ids
}

func (s *sizeLimitedSink) stats() (ids map[string]int, accepted []int, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ids), slices.Clone(s.accepted), s.refused
}

// TestSplitOn413: the measurement. A sink that refuses bodies over
// 100 KB, encoding jsonl, 2,000 ~700-byte events in one ConsumeLogs (one
// 1.4 MB body at the default transmission_limit): the exporter splits the
// refused bodies until they pass, every event arrives once and nothing is
// dead-lettered. The next ConsumeLogs packs bodies that fit at once.
func TestSplitOn413(t *testing.T) {
	s := newSizeLimitedSink(t, 100<<10)
	cfg := testConfig(s.URL)
	cfg.Encoding = EncodingJSONL
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)

	want := ids("big", 2000)
	consume(t, exp, makeLogs(t, want...))
	got, accepted, refused := s.stats()
	require.Len(t, got, 2000, "every event arrives")
	for _, id := range want {
		assert.Equal(t, 1, got[id], "event %s arrives once", id)
	}
	assert.Positive(t, refused, "the first body was refused")
	assert.Empty(t, readDeadLetters(t, cfg.DeadLetter.Directory))
	assert.Zero(t, exp.counter(t, "events.dead_lettered"))
	for _, n := range accepted {
		assert.LessOrEqual(t, n, 100<<10)
	}

	// The endpoint's limit is remembered: no more 413s, and bodies are
	// still more than half full.
	consume(t, exp, makeLogs(t, ids("next", 2000)...))
	got, accepted2, refused2 := s.stats()
	assert.Len(t, got, 4000)
	assert.Equal(t, refused, refused2, "bodies packed after a 413 fit the endpoint")
	for _, n := range accepted2[len(accepted) : len(accepted2)-1] { // the last one holds the rest
		assert.Greater(t, n, 25<<10, "bodies stay reasonably large")
	}
}

// TestOversizedEventAloneDeadLettered: one event larger than the sink's
// limit among 1,000: it is dead-lettered as too_large with the 413, once
// refused alone, and the 1,000 others arrive.
func TestOversizedEventAloneDeadLettered(t *testing.T) {
	for _, enc := range []Encoding{EncodingJSONL, EncodingNVDF, EncodingBatch, EncodingStructured} {
		t.Run(string(enc), func(t *testing.T) {
			s := newSizeLimitedSink(t, 100<<10)
			cfg := testConfig(s.URL)
			cfg.Encoding = enc
			cfg.DeadLetter.Directory = t.TempDir()
			exp := startExporter(t, cfg, nil)

			want := ids("ok", 1000)
			ld := makeLogs(t, append(want[:500:500], append([]string{"huge"}, want[500:]...)...)...)
			huge := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(500)
			require.Equal(t, plog.LogRecord(huge).Body().Type().String(), "Map")
			huge.Body().Map().PutStr("blob", strings.Repeat("x", 150<<10))
			consume(t, exp, ld)

			got, _, _ := s.stats()
			assert.Equal(t, 1000, len(got))
			assert.Zero(t, got["huge"])
			dl := readDeadLetters(t, cfg.DeadLetter.Directory)
			require.Equal(t, 1, len(dl), "dead letters")
			assert.Equal(t, "huge", dl[0].eventID(t))
			assert.Equal(t, string(cloudevent.ReasonTooLarge), dl[0].Reason)
			assert.Equal(t, http.StatusRequestEntityTooLarge, dl[0].Status)
			assert.Equal(t, int64(1), exp.counter(t, "events.dead_lettered", attribute.String("reason", "too_large")))
			assert.Equal(t, int64(1000), exp.counter(t, "events.sent"))
		})
	}
}
