package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// linesSink is a JSON-lines sink on loopback that counts deliveries per
// event id.
type linesSink struct {
	*httptest.Server
	delay time.Duration // per request, to keep batches in flight
	// refuse, when not 0, is the status every request gets (an outage).
	refuse atomic.Int32
	// reject lists event ids whose requests get 400 (a poison event).
	reject  map[string]bool
	refused atomic.Int64 // requests answered with an error status

	mu    sync.Mutex
	ids   map[string]int
	lines map[string][]byte // the last line received per id
	errs  []string
}

func newLinesSink(t *testing.T) *linesSink {
	s := &linesSink{ids: map[string]int{}, lines: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			// A collector killed while sending: the request was never
			// acknowledged, so its events come again. Not an error.
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(s.delay)
		if code := int(s.refuse.Load()); code != 0 {
			s.refused.Add(1)
			w.WriteHeader(code)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var batch []string
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var ev struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.ID == "" {
				s.errs = append(s.errs, fmt.Sprintf("bad line %q: %v", sc.Text(), err))
				continue
			}
			if s.reject[ev.ID] {
				s.refused.Add(1)
				http.Error(w, "poison event "+ev.ID, http.StatusBadRequest)
				return
			}
			batch = append(batch, ev.ID, sc.Text())
		}
		// The request is accepted as a whole, or not at all.
		for i := 0; i < len(batch); i += 2 {
			s.ids[batch[i]]++
			s.lines[batch[i]] = []byte(batch[i+1])
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

// check returns nil once every id of want arrived; it also reports ids that
// should not have arrived and sink errors.
func (s *linesSink) check(want map[string]bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		return fmt.Errorf("sink errors: %q", s.errs)
	}
	missing := 0
	for id := range want {
		if s.ids[id] == 0 {
			missing++
		}
	}
	for id := range s.ids {
		if !want[id] {
			return fmt.Errorf("unexpected event %q delivered", id)
		}
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d events not delivered yet (%d distinct delivered)", missing, len(want), len(s.ids))
	}
	return nil
}

// line returns the last line received for id.
func (s *linesSink) line(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines[id]
}

// distinct is the number of different ids delivered.
func (s *linesSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// duplicates is the number of deliveries beyond the first, over all ids.
func (s *linesSink) duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.ids {
		n += c - 1
	}
	return n
}

// slEnv is the environment of testdata/structuredlog.yaml.
type slEnv struct {
	logDir, storageDir string
	healthPort         int
	sink               *linesSink
	maxBatch           int
	receiverStorage    bool
}

func newSLEnv(t *testing.T, maxBatch int, receiverStorage bool) *slEnv {
	return &slEnv{
		logDir: t.TempDir(), storageDir: t.TempDir(), healthPort: testutil.FreePorts(t, 1)[0],
		sink: newLinesSink(t), maxBatch: maxBatch, receiverStorage: receiverStorage,
	}
}

func (e *slEnv) start(t *testing.T) *testutil.Collector {
	t.Helper()
	storage := "null" // progress in the files' seek tags
	if e.receiverStorage {
		storage = "file_storage"
	}
	c := testutil.StartCollector(t, testutil.CollectorBinary(t), []string{
		"COURIER_E2E_LOG_DIR=" + e.logDir,
		"COURIER_E2E_STORAGE_DIR=" + e.storageDir,
		"COURIER_E2E_SINK_URL=" + e.sink.URL,
		fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", e.healthPort),
		fmt.Sprintf("COURIER_E2E_MAX_BATCH=%d", e.maxBatch),
		"COURIER_E2E_RECEIVER_STORAGE=" + storage,
	}, "--config=testdata/structuredlog.yaml")
	c.WaitUntil(deliveryTimeout, "collector healthy", func() error {
		return httpGet200(fmt.Sprintf("http://127.0.0.1:%d/", e.healthPort))
	})
	return c
}

// writeEvents writes n events with ids prefix-0 … into dir/name with the
// structured log writer and returns their ids.
func writeEvents(t *testing.T, o structuredlog.Options, prefix string, n int, want map[string]bool) {
	t.Helper()
	w, err := structuredlog.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	for i := range n {
		id, err := w.WriteRaw("com.example.e2e.event", "example.e2e-1.0", eventData(prefix, i))
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
}

// eventData is a ~600-byte data object.
func eventData(prefix string, i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"writer":%q,"seq":%d,"extensionName":"omni.kit.window.viewport","durationMs":1234.5,`+
		`"message":"Extension omni.kit.window.viewport started in 1234.5 ms with \"default\" settings and a long tail of text `+
		`so that the event is about the size of a real Omniverse telemetry event, which is around seven hundred bytes",`+
		`"gpu":{"name":"NVIDIA RTX A6000","driver":"550.54.14","memoryMB":49140},"tags":["render","startup","viewport"]}`, prefix, i))
}

// TestMain stops the backfill benchmark's history server after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	closeHistory()
	os.Exit(code)
}

// TestStructuredLogKill9: the collector is killed with SIGKILL at random
// points and restarted 10 times while reading; every event arrives, and
// duplicates stay within the batches in flight at each kill. With progress in seek
// tags and in file_storage.
func TestStructuredLogKill9(t *testing.T) {
	for _, storage := range []bool{false, true} {
		t.Run(fmt.Sprintf("storage=%v", storage), func(t *testing.T) {
			const maxBatch = 200
			e := newSLEnv(t, maxBatch, storage)
			e.sink.delay = 30 * time.Millisecond // ~2 s of delivery: the kills land mid-stream
			want := map[string]bool{}
			for f := range 3 {
				writeEvents(t, structuredlog.Options{Dir: e.logDir, Name: fmt.Sprintf("app%d.log", f), Source: "e2e@kill"},
					fmt.Sprintf("f%d", f), 4000, want)
			}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
			const kills = 10
			for k := range kills {
				c := e.start(t)
				time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
				c.Kill()
				t.Logf("kill %d: %d distinct events delivered so far", k+1, e.sink.distinct())
			}
			c := e.start(t)
			c.WaitUntil(2*deliveryTimeout, "every event delivered after the last restart", func() error { return e.sink.check(want) })
			// Per kill, at most the batches in flight (max_in_flight_batches,
			// 4 by default) were delivered but not committed.
			const inFlight = 4
			if d := e.sink.duplicates(); d > kills*inFlight*maxBatch {
				t.Fatalf("%d duplicate deliveries after %d kills: more than %d batches of %d per kill", d, kills, inFlight, maxBatch)
			}
			t.Logf("%d duplicates after %d kills", e.sink.duplicates(), kills)
		})
	}
}

// TestStructuredLogManyFiles: 1,000 structured logs in one folder, read with
// at most 64 open at a time.
func TestStructuredLogManyFiles(t *testing.T) {
	e := newSLEnv(t, 1000, false)
	want := map[string]bool{}
	for f := range 1000 {
		writeEvents(t, structuredlog.Options{Dir: e.logDir, Name: fmt.Sprintf("schema%04d.log", f), Source: "e2e@many"},
			fmt.Sprintf("m%d", f), 5, want)
	}
	c := e.start(t)
	c.WaitUntil(2*deliveryTimeout, "every event of 1,000 files delivered", func() error { return e.sink.check(want) })
}

// TestStructuredLogBadInput: bad lines and bad files mixed with good events;
// every good event arrives, nothing bad does, the collector keeps running.
func TestStructuredLogBadInput(t *testing.T) {
	e := newSLEnv(t, 1000, false)
	want := map[string]bool{}
	writeEvents(t, structuredlog.Options{Dir: e.logDir, Name: "good.log", Source: "e2e@bad"}, "g", 100, want)

	// A structured log with bad lines between good ones.
	path := filepath.Join(e.logDir, "mixed.log")
	writeEvents(t, structuredlog.Options{Dir: e.logDir, Name: "mixed.log", Source: "e2e@bad"}, "a", 10, want)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"not json at all",
		`["an","array"]`,
		`{"specversion":"1.0","source":"s","type":"t"}`,
		`{"specversion":"0.3","id":"bad-spec","source":"s","type":"t"}`,
		`{"specversion":"1.0","id":"bad-both","source":"s","type":"t","data":{},"data_base64":"AA=="}`,
		`{"specversion":"1.0","id":"bad-trunc","source":"s",`,
		"",
	} {
		if _, err := f.WriteString(bad + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	writeEvents(t, structuredlog.Options{Dir: e.logDir, Name: "mixed.log", Source: "e2e@bad"}, "b", 10, want)

	// Files that are not structured logs, or of a version we do not know.
	for name, content := range map[string]string{
		"plain.log":   `{"specversion":"1.0","id":"no-header","source":"s","type":"t"}` + "\n",
		"binary.log":  "\x00\x01\x02\xff\n",
		"version.log": `{"source":"omni.structuredlog","version":"9.9","time":"2025-03-04T05:06:07.123456+00:00"}` + "\n" + `{"specversion":"1.0","id":"bad-version","source":"s","type":"t"}` + "\n",
		"empty.log":   "",
	} {
		if err := os.WriteFile(filepath.Join(e.logDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := e.start(t)
	c.WaitUntil(deliveryTimeout, "every good event delivered", func() error { return e.sink.check(want) })
	// A torn last line is delivered once its end arrives.
	torn := filepath.Join(e.logDir, "good.log")
	tf, err := os.OpenFile(torn, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tf.WriteString(`{"specversion":"1.0","id":"torn-1","source":"s",`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // several polls see the torn line
	if err := e.sink.check(want); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.WriteString(`"type":"t"}` + "\n"); err != nil {
		t.Fatal(err)
	}
	_ = tf.Close()
	want["torn-1"] = true
	c.WaitUntil(deliveryTimeout, "the completed torn line delivered", func() error { return e.sink.check(want) })
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
