package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
)

// The health tests run the built binary with the chart's two healthcheckv2
// endpoints (testdata/health_*.yaml): live (liveness: the process works) and
// ready (readiness: component status; recovery_duration 2 s here) and watch
// the status transitions the chart README's "Health" table promises.

// healthCollector is a collector started with a live and a ready port.
type healthCollector struct {
	*testutil.Collector
	live, ready string // URLs of the two status endpoints
}

func startHealthCollector(t *testing.T, config string, env []string) *healthCollector {
	t.Helper()
	ports := testutil.FreePorts(t, 4)
	env = append(env, fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", ports[0]), fmt.Sprintf("COURIER_E2E_READY_PORT=%d", ports[1]),
		fmt.Sprintf("COURIER_E2E_HEALTH_GRPC_PORT=%d", ports[2]), fmt.Sprintf("COURIER_E2E_READY_GRPC_PORT=%d", ports[3]))
	c := &healthCollector{
		Collector: testutil.StartCollector(t, testutil.CollectorBinary(t), env, "--config="+config),
		live:      fmt.Sprintf("http://127.0.0.1:%d/", ports[0]),
		ready:     fmt.Sprintf("http://127.0.0.1:%d/status", ports[1]),
	}
	c.WaitUntil(testutil.DefaultStartTimeout, "liveness answers 200", func() error { return httpGet200(c.live) })
	return c
}

// componentStatus is one component of healthcheckv2's verbose answer.
type componentStatus struct {
	Healthy    bool                       `json:"healthy"`
	Status     string                     `json:"status"`
	Error      string                     `json:"error"`
	Attributes map[string]any             `json:"attributes"`
	Components map[string]componentStatus `json:"components"`
}

// status GETs the ready endpoint (?verbose) and returns its HTTP status and
// the component named id ("receiver:datastore", "exporter:cloudevents",
// "extension:oidc_client"), wherever it is in the tree.
func (c *healthCollector) status(id string) (int, componentStatus, error) {
	resp, err := httpClient.Get(c.ready + "?verbose")
	if err != nil {
		return 0, componentStatus{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, componentStatus{}, err
	}
	var root componentStatus
	if err := json.Unmarshal(body, &root); err != nil {
		return 0, componentStatus{}, fmt.Errorf("%s: %w: %s", c.ready, err, body)
	}
	var find func(componentStatus) (componentStatus, bool)
	find = func(s componentStatus) (componentStatus, bool) {
		for name, sub := range s.Components {
			if name == id {
				return sub, true
			}
			if got, ok := find(sub); ok {
				return got, true
			}
		}
		return componentStatus{}, false
	}
	comp, ok := find(root)
	if !ok {
		return resp.StatusCode, root, fmt.Errorf("no component %s in %s", id, body)
	}
	return resp.StatusCode, comp, nil
}

// waitStatus waits until the ready endpoint answers code and component id
// has status want (StatusOK, StatusRecoverableError, …) and, when state is
// not empty, courier.state state. Liveness must answer 200 meanwhile.
func (c *healthCollector) waitStatus(t *testing.T, timeout time.Duration, id string, code int, want, state string) componentStatus {
	t.Helper()
	var got componentStatus
	c.WaitUntil(timeout, fmt.Sprintf("ready %d, %s %s %s", code, id, want, state), func() error {
		if err := httpGet200(c.live); err != nil {
			t.Fatalf("liveness failed while the process works: %v", err)
		}
		st, comp, err := c.status(id)
		if err != nil {
			return err
		}
		got = comp
		if st != code || comp.Status != want || (state != "" && comp.Attributes["courier.state"] != state) {
			return fmt.Errorf("ready %d, %s %s %v error %q", st, id, comp.Status, comp.Attributes, comp.Error)
		}
		return nil
	})
	return got
}

// tokenSink is a CloudEvents sink that accepts only tokens the token server
// issued (and, while refuseAll is set, none at all: the client lost its
// rights at the sink), and fails with 503 while down.
type tokenSink struct {
	*ceSink
	refuseAll atomic.Bool
}

func newTokenSink(t *testing.T, tokens *tokenServer) *tokenSink {
	s := &tokenSink{ceSink: newCESink(t)}
	inner := s.Config.Handler
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if s.refuseAll.Load() || !tokens.Valid(tok) {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, "token refused", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	})
	return s
}

// sendLogs posts n events through OTLP in the background and keeps the
// request open: the receiver answers once they are delivered, which during
// an outage is when it ends (as Courier's own receivers wait).
func sendLogs(t *testing.T, port int, prefix string, n int) []string {
	ld, ids := ceLogs(t, prefix, n)
	payload, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/logs", port), bytes.NewReader(payload))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
		}
	}()
	return ids
}

func sinkEnv(t *testing.T, tokens *tokenServer, sinkURL string) ([]string, int, string) {
	t.Helper()
	otlp := testutil.FreePorts(t, 1)[0]
	secret := filepath.Join(t.TempDir(), "oidc-client-secret")
	if err := os.WriteFile(secret, []byte(nvClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"COURIER_E2E_SINK_URL=" + sinkURL,
		"COURIER_E2E_TOKEN_URL=" + tokens.url,
		"COURIER_E2E_SECRET_FILE=" + secret,
		fmt.Sprintf("COURIER_E2E_OTLP_PORT=%d", otlp),
	}, otlp, secret
}

// TestHealthSinkOutage: the sink fails; the exporter turns to a recoverable
// error after health::failing_after and the pod not Ready after
// recovery_duration, while liveness stays 200 (a sink outage restarts
// nothing); the sink recovers and so does readiness, with every event
// delivered.
func TestHealthSinkOutage(t *testing.T) {
	tokens := newTokenServer(t)
	sink := newTokenSink(t, tokens)
	env, otlp, _ := sinkEnv(t, tokens, sink.URL)
	c := startHealthCollector(t, "testdata/health_sink.yaml", env)

	ids := sendLogs(t, otlp, "before", 5)
	c.WaitUntil(deliveryTimeout, "first events delivered", func() error { return sink.missing(ids) })
	c.waitStatus(t, deliveryTimeout, "exporter:cloudevents", http.StatusOK, "StatusOK", "")

	sink.down.Store(true)
	ids = append(ids, sendLogs(t, otlp, "outage", 5)...)
	comp := c.waitStatus(t, deliveryTimeout, "exporter:cloudevents", http.StatusInternalServerError, "StatusRecoverableError", "")
	if !strings.Contains(comp.Error, "503") {
		t.Errorf("the exporter's error %q does not say what the sink answered", comp.Error)
	}

	sink.down.Store(false)
	c.waitStatus(t, deliveryTimeout, "exporter:cloudevents", http.StatusOK, "StatusOK", "")
	c.WaitUntil(deliveryTimeout, "every event delivered after the outage", func() error { return sink.missing(ids) })
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestHealthRevokedOIDCClient: the token endpoint refuses the client (its
// secret was revoked and every token issued so far revoked): oidc_client is
// in a recoverable error and the pod turns not Ready; a new secret in the
// file (no restart) makes it Ready again. Then the sink refuses every token
// even right after a refresh: the exporter reports a permanent error, the
// pod is not Ready at once, and the log says why in one line.
func TestHealthRevokedOIDCClient(t *testing.T) {
	tokens := newTokenServer(t)
	sink := newTokenSink(t, tokens)
	env, otlp, secret := sinkEnv(t, tokens, sink.URL)
	c := startHealthCollector(t, "testdata/health_sink.yaml", env)
	ids := sendLogs(t, otlp, "before", 3)
	c.WaitUntil(deliveryTimeout, "first events delivered", func() error { return sink.missing(ids) })

	// The client is revoked at the token endpoint.
	if err := os.WriteFile(secret, []byte("revoked\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens.Revoke()
	ids = append(ids, sendLogs(t, otlp, "revoked", 3)...)
	comp := c.waitStatus(t, deliveryTimeout, "extension:oidc_client", http.StatusInternalServerError, "StatusRecoverableError", "")
	if !strings.Contains(comp.Error, "rejected") {
		t.Errorf("oidc_client's error %q does not say the endpoint rejected the client", comp.Error)
	}

	// A new secret: tokens again, Ready again, the waiting events delivered.
	if err := os.WriteFile(secret, []byte(nvClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// oidc_client retries with a backoff of up to 30 s.
	c.waitStatus(t, 2*deliveryTimeout, "extension:oidc_client", http.StatusOK, "StatusOK", "")
	c.WaitUntil(2*deliveryTimeout, "events delivered with the new secret", func() error { return sink.missing(ids) })

	// The sink refuses the client whatever its token.
	sink.refuseAll.Store(true)
	sendLogs(t, otlp, "refused", 5)
	comp = c.waitStatus(t, deliveryTimeout, "exporter:cloudevents", http.StatusInternalServerError, "StatusPermanentError", "")
	if !strings.Contains(comp.Error, "401") {
		t.Errorf("the exporter's error %q does not say 401", comp.Error)
	}
	const line = "The sink refuses every request (401/403) even with a fresh token"
	if n := strings.Count(c.Output(), line); n != 1 {
		t.Errorf("the permanent error is logged %d times, want once:\n%s", n, c.Output())
	}
	if err := httpGet200(c.live); err != nil {
		t.Errorf("liveness after a permanent error: %v", err)
	}
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestHealthDatastore: two replicas on PostgreSQL: one leads, the other is
// a Ready standby that says so; PostgreSQL stops: both turn to a
// recoverable error and not Ready, liveness stays 200; PostgreSQL comes
// back: both Ready again, one leading, one standby, and the events written
// meanwhile are delivered.
func TestHealthDatastore(t *testing.T) {
	pg := pgtest.Start(t)
	e := newNVEnvOn(t, pg, pg.NewDB(t))
	sink := newCESink(t)
	env := []string{"COURIER_E2E_PG_DSN=" + e.dsn, "COURIER_E2E_SINK_URL=" + sink.URL}
	a := startHealthCollector(t, "testdata/health_datastore.yaml", env)
	b := startHealthCollector(t, "testdata/health_datastore.yaml", env)
	const id = "receiver:datastore"

	roles := func() (leader, standby *healthCollector) {
		t.Helper()
		a.WaitUntil(deliveryTimeout, "one leader and one standby", func() error {
			_, sa, errA := a.status(id)
			_, sb, errB := b.status(id)
			if errA != nil || errB != nil {
				return fmt.Errorf("%v %v", errA, errB)
			}
			switch {
			case sa.Attributes["courier.state"] == "leading" && sb.Attributes["courier.state"] == "standby":
				leader, standby = a, b
			case sb.Attributes["courier.state"] == "leading" && sa.Attributes["courier.state"] == "standby":
				leader, standby = b, a
			default:
				return fmt.Errorf("a %s %v, b %s %v", sa.Status, sa.Attributes, sb.Status, sb.Attributes)
			}
			return nil
		})
		return leader, standby
	}
	leader, standby := roles()
	leader.waitStatus(t, deliveryTimeout, id, http.StatusOK, "StatusOK", "leading")
	standby.waitStatus(t, deliveryTimeout, id, http.StatusOK, "StatusOK", "standby")
	ids := e.insert(t, e.conn, 5, sample("before"))
	leader.WaitUntil(deliveryTimeout, "events delivered", func() error { return sink.missing(ids) })

	pg.Stop(t)
	for _, c := range []*healthCollector{leader, standby} {
		c.waitStatus(t, deliveryTimeout, id, http.StatusInternalServerError, "StatusRecoverableError", "")
	}

	pg.Restart(t)
	leader, standby = roles()
	leader.waitStatus(t, deliveryTimeout, id, http.StatusOK, "StatusOK", "leading")
	standby.waitStatus(t, deliveryTimeout, id, http.StatusOK, "StatusOK", "standby")
	ids = append(ids, e.insert(t, e.connect(t), 5, sample("after"))...)
	leader.WaitUntil(deliveryTimeout, "events delivered after the restart", func() error { return sink.missing(ids) })
	for _, c := range []*healthCollector{a, b} {
		if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
}

// TestHealthStandaloneMongoDB: against a MongoDB without change streams
// (FerretDB, as a standalone mongod answers) the datastore receiver reports
// a permanent error: the pod is not Ready at once, liveness stays 200, and
// the log says why once, plainly. `make test` runs it next to FerretDB
// (the FerretDB behind courier-mongo, testbed/mongo, which names it in
// COURIER_TEST_FERRETDB_URI).
func TestHealthStandaloneMongoDB(t *testing.T) {
	uri := os.Getenv("COURIER_TEST_FERRETDB_URI")
	if uri == "" {
		t.Skip("COURIER_TEST_FERRETDB_URI is not set: make test runs this test next to courier-mongo (testbed/mongo), which names its FerretDB")
	}
	sink := newCESink(t)
	c := startHealthCollector(t, "testdata/health_mongodb.yaml", []string{
		"COURIER_E2E_MONGODB_URI=" + uri,
		fmt.Sprintf("COURIER_E2E_MONGODB_DATABASE=courier_health_%d", time.Now().UnixNano()),
		"COURIER_E2E_SINK_URL=" + sink.URL,
	})
	comp := c.waitStatus(t, deliveryTimeout, "receiver:datastore", http.StatusInternalServerError, "StatusPermanentError", "")
	if !strings.Contains(comp.Error, "replica set") {
		t.Errorf("the status error %q does not say a replica set is needed", comp.Error)
	}
	// Give a retry loop, if there were one, the time to log again.
	time.Sleep(2 * time.Second)
	const line = "MongoDB must run as a replica set"
	if n := strings.Count(c.Output(), line); n != 1 {
		t.Errorf("%q is logged %d times, want once:\n%s", line, n, c.Output())
	}
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
