package scenario

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/courier-otel/courier/testbed/loadgen"
	"github.com/courier-otel/courier/testbed/sink"
)

// The fault scenarios: each drives a few seconds of load through the built
// collector while a fault strikes, then requires every event written to
// be delivered or dead-lettered as expected (Finish). They supersede
// e2e's TestDefaultsKill9, TestDefaultsPoisonEvents, TestNVSentinelKill9,
// TestNVSentinelPostgresRestart and TestStructuredLogTwoWritersRotating.

// deliveryTimeout bounds the wait for the last events after the load: a
// restart, a token refresh or a retry back-off away.
const deliveryTimeout = 45 * time.Second

// fastRetries makes a sink outage cost a few seconds rather than the
// default back-off's.
var fastRetries = []string{
	"exporters::cloudevents::retry_on_failure::initial_interval=100ms",
	"exporters::cloudevents::retry_on_failure::max_interval=1s",
}

// kill9 kills the collector with SIGKILL kills times at random points,
// restarting it at once, while load runs; before the first kill, with
// outage, the sink answers 503 to everything, so that the most events are
// in flight when it is killed.
func kill9(t *testing.T, e *Env, kills int, outage bool) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	if outage {
		if err := e.Sink.SetFaults(sink.Faults{UnavailableShare: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for k := range kills {
		time.Sleep(time.Duration(300+rng.IntN(500)) * time.Millisecond)
		e.Kill()
		if k == 0 && outage {
			if err := e.Sink.SetFaults(sink.Faults{}); err != nil {
				t.Fatal(err)
			}
		}
		e.Start()
	}
}

// TestKill9 is DESIGN.md §4.1 with default settings: kill -9 under load
// loses nothing, with the default memory queue (the checkpoints never
// pass undelivered events) or a persistent queue (it keeps them), and on
// the NVSentinel path, on PostgreSQL and on MongoDB (the resume token never
// passes them).
func TestKill9(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
	}{
		{"logs", nil},
		{"logs-persistent-queue", []string{"exporters::cloudevents::sending_queue::storage=file_storage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(t, Options{Config: "testdata/logs.yaml", Set: tc.set})
			e.Start()
			e.Logs(loadgen.LogsConfig{Rate: 2000}, 3*time.Second)
			kill9(t, e, 3, true)
			e.Finish(deliveryTimeout)
		})
	}
	t.Run("nvsentinel", func(t *testing.T) {
		e := New(t, Options{Config: "testdata/nvsentinel.yaml", Postgres: true})
		e.Start()
		e.NVSentinel(loadgen.NVSentinelConfig{Rate: 300}, 3*time.Second)
		kill9(t, e, 3, false)
		e.Finish(deliveryTimeout)
	})
	t.Run("nvsentinel-mongodb", func(t *testing.T) {
		e := New(t, Options{Config: "testdata/nvsentinel_mongodb.yaml", Mongo: true})
		e.Start()
		e.NVSentinelMongo(loadgen.MongoConfig{Rate: 300}, 3*time.Second)
		kill9(t, e, 3, false)
		e.Finish(deliveryTimeout)
	})
}

// TestSinkOutage: the sink refuses connections for 1.5 s, then answers
// 503 to everything for 1.5 s, under load; the exporter retries and
// nothing is lost.
func TestSinkOutage(t *testing.T) {
	e := New(t, Options{Config: "testdata/logs.yaml", Set: fastRetries})
	e.Start()
	e.Logs(loadgen.LogsConfig{Rate: 2000}, 4*time.Second)
	for _, f := range []struct {
		after  time.Duration
		faults sink.Faults
	}{
		{800 * time.Millisecond, sink.Faults{RefuseFor: 1500 * time.Millisecond}},
		{1500 * time.Millisecond, sink.Faults{}},
		{500 * time.Millisecond, sink.Faults{UnavailableShare: 1}},
		{1500 * time.Millisecond, sink.Faults{}},
	} {
		time.Sleep(f.after)
		if err := e.Sink.SetFaults(f.faults); err != nil {
			t.Fatal(err)
		}
	}
	e.Finish(deliveryTimeout)
	if st := e.Sink.Stats(); st.Requests["5xx"] == 0 {
		t.Fatalf("no request answered 503: the outage did not happen (%+v)", st)
	}
}

// TestTokenExpiryStorm: tokens live 2 s and every token is revoked in the
// middle of the run; the sink answers 401 to expired and revoked tokens.
// The oidc_client (NVSentinel) and auth_token (Omniverse) extensions fetch
// new ones and nothing is lost.
func TestTokenExpiryStorm(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		load func(e *Env) *Load
	}{
		{"oidc_client", Options{Config: "testdata/nvsentinel.yaml", Postgres: true},
			func(e *Env) *Load { return e.NVSentinel(loadgen.NVSentinelConfig{Rate: 300}, 5*time.Second) }},
		{"oidc_client-mongodb", Options{Config: "testdata/nvsentinel_mongodb.yaml", Mongo: true},
			func(e *Env) *Load { return e.NVSentinelMongo(loadgen.MongoConfig{Rate: 300}, 5*time.Second) }},
		{"auth_token", Options{Config: "testdata/logs_auth_token.yaml", Set: fastRetries},
			func(e *Env) *Load { return e.Logs(loadgen.LogsConfig{Rate: 1000}, 5*time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Authorize, tc.opts.TokenLifetime = true, 2*time.Second
			e := New(t, tc.opts)
			e.Start()
			tc.load(e)
			time.Sleep(2500 * time.Millisecond)
			e.Tokens.Revoke()
			e.Finish(deliveryTimeout)
			st := e.Tokens.Stats()
			t.Logf("%d tokens issued, %d requests answered 401", st.Issued, e.Sink.Stats().Unauthorized)
			if st.Issued < 3 {
				t.Fatalf("%d tokens issued in 5 s of 2 s tokens and a revocation", st.Issued)
			}
		})
	}
}

// TestRotationStorm: three writer processes share one file that rotates
// every ~90 events (64 KiB), with 1 % bad lines; every event arrives, and
// exactly once: no rotated file is read again as new.
func TestRotationStorm(t *testing.T) {
	e := New(t, Options{Config: "testdata/logs.yaml"})
	e.Start()
	e.LogsProcesses(3, loadgen.LogsConfig{Name: "storm.log", Rate: 1000, SizeLimit: 64 << 10, RetentionCount: 10_000, BadShare: 0.01}, 3*time.Second)
	r := e.Finish(deliveryTimeout)
	rotated, _ := filepath.Glob(filepath.Join(e.LogDir, "storm.*.log"))
	if len(rotated) < 20 {
		t.Fatalf("only %d rotated files: the storm must rotate", len(rotated))
	}
	if r.BadLines == 0 {
		t.Fatal("no bad lines written")
	}
	if r.Duplicates != 0 {
		t.Fatalf("%d duplicate deliveries without any crash", r.Duplicates)
	}
}

// TestPostgresRestart: PostgreSQL restarts (immediate shutdown) under
// load; the inserts resume, the receiver reconnects and LISTENs again and
// nothing is lost.
func TestPostgresRestart(t *testing.T) {
	e := New(t, Options{Config: "testdata/nvsentinel.yaml", Postgres: true})
	e.Start()
	e.NVSentinel(loadgen.NVSentinelConfig{Rate: 300}, 4*time.Second)
	time.Sleep(time.Second)
	e.PG.Restart(t)
	e.Finish(deliveryTimeout)
}

// TestPoisonEvents: the sink answers 400 for five events. They are
// dead-lettered with reason rejected, every other event is delivered,
// and the checkpoint moves past them: a restart sends nothing again.
func TestPoisonEvents(t *testing.T) {
	e := New(t, Options{Config: "testdata/logs.yaml"})
	// Written before the collector starts, so their ids are known.
	e.Logs(loadgen.LogsConfig{Count: 500}, 0).Wait(t)
	var poison []string
	for i, r := range e.Written.Records() {
		if i%100 == 42 {
			poison = append(poison, r.ID)
		}
	}
	if err := e.Sink.SetFaults(sink.Faults{RejectIDs: poison}); err != nil {
		t.Fatal(err)
	}
	e.ExpectDeadLetters("rejected", poison...)
	e.Start()
	e.Logs(loadgen.LogsConfig{Rate: 1000}, 2*time.Second)
	e.Finish(deliveryTimeout)

	before := e.Sink.Stats()
	e.Start()
	time.Sleep(1500 * time.Millisecond) // more than a poll_interval
	e.Stop()
	after := e.Sink.Stats()
	if after.Events != before.Events || after.Rejected != before.Rejected {
		t.Fatalf("after a restart: %d events delivered again, %d requests rejected again",
			after.Events-before.Events, after.Rejected-before.Rejected)
	}
}

// TestMongoRestart: MongoDB (the stand-in) is killed with SIGKILL and
// restarted on the same data and address under load, twice; the inserts
// resume, the receiver reconnects and resumes its change stream from its
// token, and nothing is lost.
func TestMongoRestart(t *testing.T) {
	e := New(t, Options{Config: "testdata/nvsentinel_mongodb.yaml", Mongo: true})
	e.Start()
	e.NVSentinelMongo(loadgen.MongoConfig{Rate: 300}, 5*time.Second)
	time.Sleep(time.Second)
	e.MongoRestart()
	time.Sleep(1500 * time.Millisecond)
	e.MongoRestart()
	e.Finish(deliveryTimeout)
}

// TestMongoChangeStreamFaults: under load, the change stream's getMore
// connections are dropped without an answer, then the primary steps down
// (PrimarySteppedDown, labelled ResumableChangeStreamError), several times
// each; the driver resumes from its token each time and nothing is lost.
func TestMongoChangeStreamFaults(t *testing.T) {
	e := New(t, Options{Config: "testdata/nvsentinel_mongodb.yaml", Mongo: true})
	e.Start()
	e.NVSentinelMongo(loadgen.MongoConfig{Rate: 300}, 4*time.Second)
	time.Sleep(time.Second)
	e.MongoFault("dropGetMore", 3)
	time.Sleep(time.Second)
	e.MongoFault("stepDown", 3)
	r := e.Finish(deliveryTimeout)
	if r.Duplicates != 0 {
		t.Errorf("%d duplicates: resuming from the token must not send events again", r.Duplicates)
	}
}
