package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/jsontest"
	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/testbed/loadgen"
	"github.com/courier-otel/courier/testbed/tokenserver"
)

// The client credentials testdata/nvsentinel*.yaml log in with at the
// testbed's token server.
const (
	nvClientID     = "nvsentinel-exporter"
	nvClientSecret = "s3cret-of-the-e2e-test"
)

// tokenServer is testbed/tokenserver on loopback; url is its token
// endpoint.
type tokenServer struct {
	*tokenserver.Server
	url string
}

func newTokenServer(t testing.TB) *tokenServer {
	ts := tokenserver.New(tokenserver.Config{ClientID: nvClientID, ClientSecret: nvClientSecret})
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return &tokenServer{Server: ts, url: srv.URL + "/token"}
}

// nvEnv runs testdata/nvsentinel.yaml against a throwaway PostgreSQL with
// NVSentinel's schema, a token server and a sink.
type nvEnv struct {
	pg         *pgtest.Server
	dsn        string
	conn       *pgx.Conn
	tokens     *tokenServer
	secretFile string
	deadLetter string
	// config is the collector config (default testdata/nvsentinel.yaml),
	// healthPath where its health check answers (default /), args more
	// command-line arguments.
	config, healthPath string
	args               []string
	health             map[*testutil.Collector]string // health URL of each collector started
}

func newNVEnv(t testing.TB) *nvEnv {
	pg := pgtest.Start(t)
	return newNVEnvOn(t, pg, pg.NewDB(t))
}

// newNVEnvOn is newNVEnv on an existing database.
func newNVEnvOn(t testing.TB, pg *pgtest.Server, dsn string) *nvEnv {
	e := &nvEnv{pg: pg, dsn: dsn, tokens: newTokenServer(t), deadLetter: t.TempDir(),
		config: "testdata/nvsentinel.yaml", healthPath: "/", health: map[*testutil.Collector]string{}}
	e.secretFile = filepath.Join(t.TempDir(), "oidc-client-secret")
	if err := os.WriteFile(e.secretFile, []byte(nvClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.conn = e.connect(t)
	return e
}

func (e *nvEnv) connect(t testing.TB) *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// start runs a collector exporting to sinkURL and waits until it is
// healthy.
func (e *nvEnv) start(t testing.TB, sinkURL string) *testutil.Collector {
	t.Helper()
	health := testutil.FreePorts(t, 1)[0]
	c := testutil.StartCollector(t, testutil.CollectorBinary(t), []string{
		"COURIER_E2E_PG_DSN=" + e.dsn,
		"COURIER_E2E_SINK_URL=" + sinkURL,
		"COURIER_E2E_TOKEN_URL=" + e.tokens.url,
		"COURIER_E2E_SECRET_FILE=" + e.secretFile,
		"COURIER_E2E_DEAD_LETTER_DIR=" + e.deadLetter,
		fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", health),
	}, append([]string{"--config=" + e.config}, e.args...)...)
	url := fmt.Sprintf("http://127.0.0.1:%d%s", health, e.healthPath)
	c.WaitUntil(deliveryTimeout, "collector healthy", func() error { return httpGet200(url) })
	e.health[c] = url
	return c
}

// insert inserts one event per transaction, as the platform connector
// does, and returns the ids.
func (e *nvEnv) insert(t testing.TB, conn *pgx.Conn, n int, ev func(i int) pgtest.HealthEvent) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		id, err := pgtest.InsertHealthEvent(context.Background(), conn, ev(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func sample(prefix string) func(int) pgtest.HealthEvent {
	return func(i int) pgtest.HealthEvent { return pgtest.SampleEvent(fmt.Sprintf("%s-%d", prefix, i)) }
}

// flaskSink runs the seed's example Flask sink (testdata/flask_sink.py)
// with the system's Python.
type flaskSink struct{ url string }

func startFlaskSink(t *testing.T) *flaskSink {
	t.Helper()
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Fatalf("python3 not found: install python3-flask (make deps): %v", err)
	}
	if out, err := exec.Command(python, "-c", "import flask").CombinedOutput(); err != nil {
		t.Fatalf("Flask is not installed for %s: install python3-flask (make deps): %v %s", python, err, out)
	}
	port := testutil.FreePorts(t, 1)[0]
	cmd := exec.Command(python, "testdata/flask_sink.py", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &flaskSink{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(deliveryTimeout)
	for {
		if resp, err := http.Get(s.url + "/received"); err == nil {
			_ = resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("the Flask sink did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type flaskReceived struct {
	Event         json.RawMessage `json:"event"`
	Authorization string          `json:"authorization"`
	ContentType   string          `json:"content_type"`
}

func (s *flaskSink) received(t *testing.T) []flaskReceived {
	t.Helper()
	resp, err := http.Get(s.url + "/received")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Events []flaskReceived `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Events
}

// TestNVSentinelPipeline: the seed's configuration, end to end, into the
// seed's own example sink: every health event that needs action arrives as
// exactly the CloudEvent of SPEC.md A.3, with a bearer token from the token
// server; NONE events are filtered out.
func TestNVSentinelPipeline(t *testing.T) {
	e := newNVEnv(t)
	sink := startFlaskSink(t)
	c := e.start(t, sink.url+"/api/v1/events")

	ids := e.insert(t, e.conn, 3, sample("node"))
	none := pgtest.SampleEvent("quiet-node")
	none.RecommendedAction = 0 // NONE: the filter drops it
	none.IsFatal, none.IsHealthy = false, true
	e.insert(t, e.conn, 1, func(int) pgtest.HealthEvent { return none })

	var got []flaskReceived
	c.WaitUntil(deliveryTimeout, "3 events at the Flask sink", func() error {
		if got = sink.received(t); len(got) < 3 {
			return fmt.Errorf("%d events so far", len(got))
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // the NONE event would have arrived by now
	if got = sink.received(t); len(got) != 3 {
		t.Fatalf("%d events at the sink, want 3 (the NONE event filtered)", len(got))
	}
	byID := map[string]flaskReceived{}
	for _, r := range got {
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r.Event, &ev); err != nil {
			t.Fatal(err)
		}
		byID[ev.ID] = r
		if r.ContentType != "application/cloudevents+json" || r.Authorization == "" {
			t.Errorf("headers: %+v", r)
		}
	}
	for i, id := range ids {
		r, ok := byID[id]
		if !ok {
			t.Fatalf("event %s (health_events.id) not received; got %v", id, byID)
		}
		want := nvWantEvent(id, i)
		if ok, err := jsontest.Equal([]byte(want), r.Event); err != nil || !ok {
			t.Errorf("event %s:\n got  %s\n want %s (%v)", id, r.Event, want, err)
		}
		if r.Authorization != got[0].Authorization {
			t.Errorf("Authorization %q, want the token of the first event, %q", r.Authorization, got[0].Authorization)
		}
	}
	if token, ok := strings.CutPrefix(got[0].Authorization, "Bearer "); !ok || !e.tokens.Valid(token) {
		t.Errorf("Authorization %q is not a bearer token the token server issued", got[0].Authorization)
	}
	if n := e.tokens.Stats().Issued; n != 1 {
		t.Errorf("the token server issued %d tokens, want 1", n)
	}
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// nvWantEvent is the CloudEvent of SPEC.md A.3 for pgtest.SampleEvent
// node-<i> stored with id, after the seed's pipeline.
func nvWantEvent(id string, i int) string {
	return fmt.Sprintf(`{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1",
			"source":"nvsentinel://prod-us-west-2/healthevents","id":%q,"time":"2026-07-14T10:30:00.123456789Z",
			"data":{"metadata":{"cluster":"prod-us-west-2","environment":"production"},
				"healthEvent":{"version":1,"agent":"gpu-health-monitor","componentClass":"GPU","checkName":"GpuXidError",
				"isFatal":true,"isHealthy":false,"message":"XID error occurred","recommendedAction":"RESTART_VM",
				"errorCode":["79"],"entitiesImpacted":[{"entityType":"GPU","entityValue":"0"}],
				"metadata":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"},
				"generatedTimestamp":"2026-07-14T10:30:00.123456789Z","nodeName":"node-%d","processingStrategy":"EXECUTE_REMEDIATION"}}}`, id, i)
}

// status returns the verbose component status of collector c.
func (e *nvEnv) status(t *testing.T, c *testutil.Collector) string {
	t.Helper()
	resp, err := http.Get(e.health[c] + "?verbose")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loader inserts health events at a rate from its own connection until
// stopped (loadgen.InsertHealthEvents), and remembers their ids.
type loader struct {
	written loadgen.Ledger
	cancel  context.CancelFunc
	done    chan error
}

func startLoader(t *testing.T, e *nvEnv, perSecond int) *loader {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loader{cancel: cancel, done: make(chan error, 1)}
	t.Cleanup(cancel)
	go func() {
		l.done <- loadgen.InsertHealthEvents(ctx, loadgen.NVSentinelConfig{DSN: e.dsn, Rate: float64(perSecond), Node: "load"}, &l.written)
	}()
	return l
}

// finish stops inserting and returns the ids of every committed insert.
func (l *loader) finish(t *testing.T) []string {
	l.cancel()
	if err := <-l.done; err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range l.written.Records() {
		ids = append(ids, r.ID)
	}
	return ids
}

// leadingLog is what the datastore receiver logs when it becomes the leader.
const leadingLog = "Leading: reading the datastore"

// TestNVSentinelFailover: two replicas; the leader is killed with SIGKILL
// under load and the standby delivers within 15 s (DESIGN.md §6), from the
// token, with nothing lost.
func TestNVSentinelFailover(t *testing.T) {
	e := newNVEnv(t)
	e.config, e.healthPath = "testdata/nvsentinel_ha.yaml", "/status"
	e.args = []string{"--feature-gates=+extension.healthcheck.useComponentStatus"}
	sink := newCESink(t)
	first := e.start(t, sink.URL)
	second := e.start(t, sink.URL)
	l := startLoader(t, e, 100)
	first.WaitUntil(deliveryTimeout, "events flowing", func() error {
		if sink.distinct() < 50 {
			return fmt.Errorf("%d delivered", sink.distinct())
		}
		return nil
	})
	leader, standby := first, second
	if !strings.Contains(first.Output(), leadingLog) {
		leader, standby = second, first
	}
	if !strings.Contains(leader.Output(), leadingLog) || strings.Contains(standby.Output(), leadingLog) {
		t.Fatalf("want exactly one leader; outputs:\n%s\n---\n%s", first.Output(), second.Output())
	}
	// The health check says which is which.
	if s := e.status(t, standby); !strings.Contains(s, "standby") {
		t.Errorf("the standby's status does not say standby: %s", s)
	}
	if s := e.status(t, leader); strings.Contains(s, "standby") {
		t.Errorf("the leader's status says standby: %s", s)
	}
	leader.Kill()
	killed := time.Now()
	before := sink.distinct()
	standby.WaitUntil(15*time.Second, "the standby delivering within 15 s of the leader's SIGKILL", func() error {
		if sink.distinct() <= before+50 {
			return fmt.Errorf("%d delivered", sink.distinct())
		}
		return nil
	})
	t.Logf("deliveries resumed %.1f s after the kill", time.Since(killed).Seconds())
	if s := e.status(t, standby); strings.Contains(s, "standby") {
		t.Errorf("the new leader's status still says standby: %s", s)
	}
	b := standby
	want := l.finish(t)
	b.WaitUntil(2*deliveryTimeout, fmt.Sprintf("all %d events delivered", len(want)), func() error { return sink.missing(want) })
	if err := b.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
