// Package scenario runs the built otelcol-courier (testutil.CollectorBinary)
// with a scenario's config against the testbed's reference sink, token
// server and, when asked, a throwaway PostgreSQL with NVSentinel's schema
// or MongoDB (courier-mongo, the replica-set stand-in, over TLS with an
// X.509 client certificate, as NVSentinel's in-cluster MongoDB); drives load
// (package loadgen, in-process or as courier-load processes) and faults
// (kill -9, sink outages and rejections, token revocation, PostgreSQL and
// MongoDB restarts, change stream faults); and accounts for every event in a Result:
// throughput, the collector's CPU time and peak RSS, write→sink latency
// percentiles, and lost and duplicated events. Events the scenario expects
// to be dead-lettered are read back from the dead-letter files, never
// assumed. Finish fails the test when an event is lost.
//
// The fault scenarios are the package's tests and the performance
// scenarios its benchmarks (BenchmarkScenario/<name>); the configs are in
// testdata.
package scenario

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/testbed/loadgen"
	"github.com/courier-otel/courier/testbed/mongoproc"
	"github.com/courier-otel/courier/testbed/procstat"
	"github.com/courier-otel/courier/testbed/sink"
	"github.com/courier-otel/courier/testbed/tokenserver"
)

// The token server's client credentials, which the configs name through
// COURIER_SCENARIO_CLIENT_ID and COURIER_SCENARIO_SECRET_FILE.
const (
	clientID     = "courier-scenario"
	clientSecret = "s3cret-of-the-scenario"
)

// startTimeout bounds a collector's start until healthy.
const startTimeout = 30 * time.Second

// Options describe a scenario's world.
type Options struct {
	// Config is the collector config file (testdata/<name>.yaml). It finds
	// its surroundings in the environment: COURIER_SCENARIO_SINK_URL,
	// _LOG_DIR, _STORAGE_DIR, _DEAD_LETTER_DIR, _HEALTH_PORT, _TOKEN_URL,
	// _CLIENT_ID, _SECRET_FILE and, with Postgres, _PG_DSN; with Mongo,
	// _MONGODB_URI, _MONGODB_CA, _MONGODB_CERT and _MONGODB_KEY.
	Config string
	// Set are --set overrides of the config ("exporters::cloudevents::…=…").
	Set []string
	// Postgres starts a throwaway PostgreSQL and creates a database with
	// NVSentinel's schema.
	Postgres bool
	// Mongo starts courier-mongo ($COURIER_MONGO_BINARY, or built) over
	// TLS with X.509 client certificates, keeping its data in a throwaway
	// PostgreSQL of the scenario's, so that it can be killed and restarted
	// on the same data (MongoRestart).
	Mongo bool
	// Faults are the sink's faults from the start.
	Faults sink.Faults
	// Authorize makes the sink accept only the token server's live tokens:
	// expired and revoked ones get 401.
	Authorize bool
	// TokenLifetime is the lifetime of the tokens; 0: tokenserver's
	// default (an hour).
	TokenLifetime time.Duration
}

// Env is one scenario's world and its accounts. Its methods are called
// from the test's goroutine.
type Env struct {
	t    testing.TB
	opts Options

	Sink   *sink.Sink
	sinkSv *sink.Server
	Tokens *tokenserver.Server
	// PG and DSN are the PostgreSQL server and database, with
	// Options.Postgres.
	PG  *pgtest.Server
	DSN string
	// Mongo is the stand-in and HealthEvents NVSentinel's collection in
	// it, with Options.Mongo.
	Mongo        *mongoproc.Server
	HealthEvents *mongo.Collection
	// LogDir is where structured log loads write; the configs read it.
	LogDir, storageDir, deadLetterDir string

	env       []string // the collector's environment
	healthURL string

	// Written is every event the loads wrote.
	Written loadgen.Ledger

	mu         sync.Mutex
	arrived    map[string]time.Time // first delivery of each id
	expectDead map[string]string    // id → the reason it must be dead-lettered with

	c          *testutil.Collector // the running collector, or nil
	cpuAtStart time.Duration       // c's CPU time once healthy
	cpu        time.Duration       // of the collectors stopped so far
	peakRSS    int64
	loads      []*Load
}

// New sets up the sink, the token server and, with o.Postgres, the
// database; nothing runs the collector yet (Start).
func New(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{
		t: t, opts: o, LogDir: t.TempDir(), storageDir: t.TempDir(), deadLetterDir: t.TempDir(),
		arrived: map[string]time.Time{}, expectDead: map[string]string{},
	}
	e.Tokens = tokenserver.New(tokenserver.Config{ClientID: clientID, ClientSecret: clientSecret, Lifetime: o.TokenLifetime})
	tokens := httptest.NewServer(e.Tokens)
	t.Cleanup(tokens.Close)
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(clientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := sink.Config{Seed: 1, Faults: o.Faults, OnEvent: e.onEvent}
	if o.Authorize {
		cfg.Authorize = e.Tokens.Valid
	}
	e.Sink = sink.New(cfg)
	sv, err := sink.Serve(e.Sink, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.sinkSv = sv
	t.Cleanup(func() { _ = sv.Close() })

	if o.Postgres {
		e.PG = pgtest.Start(t)
		e.DSN = e.PG.NewDB(t)
	}
	var mongoEnv []string
	if o.Mongo {
		mongoEnv = e.startMongo()
	}
	health := testutil.FreePorts(t, 1)[0]
	e.healthURL = fmt.Sprintf("http://127.0.0.1:%d/", health)
	e.env = []string{
		"COURIER_SCENARIO_SINK_URL=" + sv.URL + "/events",
		"COURIER_SCENARIO_LOG_DIR=" + e.LogDir,
		"COURIER_SCENARIO_STORAGE_DIR=" + e.storageDir,
		"COURIER_SCENARIO_DEAD_LETTER_DIR=" + e.deadLetterDir,
		fmt.Sprintf("COURIER_SCENARIO_HEALTH_PORT=%d", health),
		"COURIER_SCENARIO_TOKEN_URL=" + tokens.URL,
		"COURIER_SCENARIO_CLIENT_ID=" + clientID,
		"COURIER_SCENARIO_SECRET_FILE=" + secretFile,
		"COURIER_SCENARIO_PG_DSN=" + e.DSN,
	}
	e.env = append(e.env, mongoEnv...)
	t.Cleanup(e.stopLoads)
	return e
}

// startMongo starts the stand-in over a database of its own and connects
// to it as NVSentinel's modules do; it returns the collector's environment.
func (e *Env) startMongo() []string {
	t := e.t
	t.Helper()
	bin, err := mongoproc.Binary(testutil.ModuleRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pg := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := mongoproc.Start(ctx, mongoproc.Options{Binary: bin, Dir: t.TempDir(), Postgres: pg.NewDB(t), Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	client, err := m.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	e.Mongo, e.HealthEvents = m, client.Database("nvsentinel").Collection("HealthEvents")
	return []string{
		"COURIER_SCENARIO_MONGODB_URI=" + m.URI,
		"COURIER_SCENARIO_MONGODB_CA=" + m.CAFile,
		"COURIER_SCENARIO_MONGODB_CERT=" + m.CertFile,
		"COURIER_SCENARIO_MONGODB_KEY=" + m.KeyFile,
	}
}

// MongoRestart kills the stand-in (SIGKILL) and starts it again on the
// same data and address: connections drop, change stream cursors are gone.
func (e *Env) MongoRestart() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.Mongo.Restart(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// MongoFault switches a change stream fault of the stand-in on for the
// next times change stream commands (testbed/mongo's README):
// "dropGetMore" or "stepDown".
func (e *Env) MongoFault(fault string, times int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := e.HealthEvents.Database().Client().Database("admin").RunCommand(ctx,
		bson.D{{Key: "courierFault", Value: fault}, {Key: "times", Value: times}}).Err()
	if err != nil {
		e.t.Fatalf("courierFault %s: %v", fault, err)
	}
}

// onEvent is the sink's hook: it notes the first arrival of each id.
func (e *Env) onEvent(_, id string, duplicate bool) {
	if duplicate {
		return
	}
	now := time.Now()
	e.mu.Lock()
	if _, ok := e.arrived[id]; !ok {
		e.arrived[id] = now
	}
	e.mu.Unlock()
}

// Start runs the collector and waits until its health check answers. A
// collector already running is an error of the scenario.
func (e *Env) Start() {
	e.t.Helper()
	if e.c != nil {
		e.t.Fatal("scenario: Start while a collector runs")
	}
	args := []string{"--config=" + e.opts.Config}
	for _, s := range e.opts.Set {
		args = append(args, "--set="+s)
	}
	c := testutil.StartCollector(e.t, testutil.CollectorBinary(e.t), e.env, args...)
	c.WaitUntil(startTimeout, "collector healthy", func() error { return get200(e.healthURL) })
	cpu, err := procstat.CPUTime(c.Pid())
	if err != nil {
		e.t.Fatal(err)
	}
	e.c, e.cpuAtStart = c, cpu
}

// Kill ends the collector with SIGKILL, as an OOM kill or a crash would.
func (e *Env) Kill() {
	e.t.Helper()
	e.sample()
	e.c.Kill()
	e.c = nil
}

// Stop shuts the collector down with SIGTERM; an unclean exit fails the
// test.
func (e *Env) Stop() {
	e.t.Helper()
	e.sample()
	if err := e.c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		e.t.Errorf("collector shutdown: %v", err)
	}
	e.c = nil
}

// sample adds the running collector's CPU time since it became healthy
// and its peak RSS to the accounts, just before it ends.
func (e *Env) sample() {
	e.t.Helper()
	if e.c == nil {
		e.t.Fatal("scenario: no collector running")
	}
	cpu, err := procstat.CPUTime(e.c.Pid())
	if err != nil {
		e.t.Fatal(err)
	}
	rss, err := procstat.PeakRSS(e.c.Pid())
	if err != nil {
		e.t.Fatal(err)
	}
	e.cpu += cpu - e.cpuAtStart
	e.peakRSS = max(e.peakRSS, rss)
}

// Collector is the running collector, or nil.
func (e *Env) Collector() *testutil.Collector { return e.c }

// ExpectDeadLetters declares that events ids must end in the dead-letter
// files with reason: they count as accounted for, not as lost, and Finish
// fails if any other event is dead-lettered or one of these is not.
func (e *Env) ExpectDeadLetters(reason string, ids ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		e.expectDead[id] = reason
	}
}

func get200(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
