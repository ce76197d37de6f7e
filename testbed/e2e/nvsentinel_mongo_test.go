package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/courier-otel/courier/internal/jsontest"
	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/testbed/loadgen"
	"github.com/courier-otel/courier/testbed/mongoproc"
)

// mongoStandIn is courier-mongo as a process of its own (mongoproc), over
// TLS with client certificates from its CA (as NVSentinel's in-cluster
// MongoDB), keeping its data in a PostgreSQL of the test's, so that it can
// be killed and restarted on the same data and address. `make test` sets
// COURIER_MONGO_BINARY; otherwise the test builds it.
type mongoStandIn struct {
	*mongoproc.Server
	dsn string
}

func startMongoStandIn(t testing.TB) *mongoStandIn {
	t.Helper()
	pg := pgtest.Start(t)
	dsn := pg.NewDB(t)
	bin, err := mongoproc.Binary(testutil.ModuleRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := mongoproc.Start(ctx, mongoproc.Options{Binary: bin, Dir: t.TempDir(), Postgres: dsn, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return &mongoStandIn{Server: s, dsn: dsn}
}

// kill stops the stand-in with SIGKILL.
func (m *mongoStandIn) kill() { m.Kill() }

// start runs the stand-in again on the same data and address.
func (m *mongoStandIn) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

func (m *mongoStandIn) client(t testing.TB) *mongo.Client {
	t.Helper()
	c, err := m.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// nvMongoDoc is a health event as NVSentinel's platform connector stores
// it in MongoDB (SPEC.md A.2: the Go driver's default codec, lowercase
// keys, enum integers, createdAt).
func nvMongoDoc(id bson.ObjectID, node string, createdAt time.Time) bson.D {
	return loadgen.MongoDocument(id, pgtest.SampleEvent(node), createdAt)
}

// wantNVEvent is SPEC.md A.3's CloudEvent for nvMongoDoc.
func wantNVEvent(id, node string) string {
	return fmt.Sprintf(`{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1",
		"source":"nvsentinel://prod-us-west-2/healthevents","id":%q,"time":"2026-07-14T10:30:00.123456789Z",
		"data":{"metadata":{"cluster":"prod-us-west-2","environment":"production"},
			"healthEvent":{"version":1,"agent":"gpu-health-monitor","componentClass":"GPU","checkName":"GpuXidError",
			"isFatal":true,"isHealthy":false,"message":"XID error occurred","recommendedAction":"RESTART_VM",
			"errorCode":["79"],"entitiesImpacted":[{"entityType":"GPU","entityValue":"0"}],
			"metadata":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"},
			"generatedTimestamp":"2026-07-14T10:30:00.123456789Z","nodeName":%q,"processingStrategy":"EXECUTE_REMEDIATION"}}}`, id, node)
}

// bodySink keeps the first body and the count of each event id (one
// structured-mode event per request).
type bodySink struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]byte
	count  map[string]int
	bad    atomic.Int64
}

func newBodySink(t *testing.T) *bodySink {
	s := &bodySink{bodies: map[string][]byte{}, count: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &ev) != nil || ev.ID == "" || r.Header.Get("Content-Type") != "application/cloudevents+json" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			s.bad.Add(1)
			http.Error(w, "not a structured CloudEvent with a bearer token", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		if s.count[ev.ID] == 0 {
			s.bodies[ev.ID] = body
		}
		s.count[ev.ID]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bodySink) missing(want map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id := range want {
		if s.count[id] == 0 {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%d of %d events not delivered", n, len(want))
	}
	return nil
}

func (s *bodySink) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.count)
}

// mongoLoader inserts health events one at a time, as NVSentinel's
// platform connectors do, until stopped, through stand-in restarts.
type mongoLoader struct {
	mu     sync.Mutex
	nodes  map[string]string // id → node of every acknowledged insert
	maybe  map[string]string // inserts that failed: committed or not
	cancel context.CancelFunc
	done   chan struct{}
}

func startMongoLoader(coll *mongo.Collection, prefix string, perSecond int) *mongoLoader {
	ctx, cancel := context.WithCancel(context.Background())
	l := &mongoLoader{nodes: map[string]string{}, maybe: map[string]string{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			id, node := bson.NewObjectID(), fmt.Sprintf("%s-%d", prefix, i)
			ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := coll.InsertOne(ictx, nvMongoDoc(id, node, time.Now()))
			cancel()
			// An insert that failed (the stand-in down, or stopping) may
			// have committed all the same.
			l.mu.Lock()
			if err == nil {
				l.nodes[id.Hex()] = node
			} else {
				l.maybe[id.Hex()] = node
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *mongoLoader) stop() (acknowledged, maybe map[string]string) {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nodes, l.maybe
}

// mongoNV runs testdata/nvsentinel_mongo.yaml against courier-mongo, a
// token server and a sink.
type mongoNV struct {
	m    *mongoStandIn
	coll *mongo.Collection
	sink *bodySink
	env  []string
}

func newMongoNV(t *testing.T) *mongoNV {
	m := startMongoStandIn(t)
	e := &mongoNV{m: m, coll: m.client(t).Database("nvsentinel").Collection("HealthEvents"), sink: newBodySink(t)}
	tokens := newTokenServer(t)
	secret := filepath.Join(t.TempDir(), "oidc-client-secret")
	if err := os.WriteFile(secret, []byte(nvClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.env = []string{
		"COURIER_E2E_MONGODB_URI=" + m.URI,
		"COURIER_E2E_MONGODB_CA=" + m.CAFile,
		"COURIER_E2E_MONGODB_CERT=" + m.CertFile,
		"COURIER_E2E_MONGODB_KEY=" + m.KeyFile,
		"COURIER_E2E_SINK_URL=" + e.sink.URL,
		"COURIER_E2E_TOKEN_URL=" + tokens.url,
		"COURIER_E2E_SECRET_FILE=" + secret,
		"COURIER_E2E_DEAD_LETTER_DIR=" + t.TempDir(),
	}
	return e
}

// start runs a collector and waits until it is healthy.
func (e *mongoNV) start(t *testing.T) *testutil.Collector {
	t.Helper()
	health := testutil.FreePorts(t, 1)[0]
	c := testutil.StartCollector(t, testutil.CollectorBinary(t), append(slices.Clone(e.env), fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", health)),
		"--config=testdata/nvsentinel_mongo.yaml")
	url := fmt.Sprintf("http://127.0.0.1:%d/", health)
	c.WaitUntil(deliveryTimeout, "collector healthy", func() error { return httpGet200(url) })
	return c
}

// waitDelivered waits until n distinct events have arrived.
func (e *mongoNV) waitDelivered(c *testutil.Collector, n int) {
	c.WaitUntil(2*deliveryTimeout, fmt.Sprintf("%d events delivered", n), func() error {
		if d := e.sink.delivered(); d < n {
			return fmt.Errorf("%d delivered", d)
		}
		return nil
	})
}

// insertHistory inserts n events created over the last hours, in
// batches; it returns id → node.
func (e *mongoNV) insertHistory(t *testing.T, prefix string, n int, want map[string]string) {
	t.Helper()
	var docs []any
	for i := range n {
		id, node := bson.NewObjectID(), fmt.Sprintf("%s-%d", prefix, i)
		docs = append(docs, nvMongoDoc(id, node, time.Now().Add(-3*time.Hour).Add(time.Duration(i)*time.Second)))
		want[id.Hex()] = node
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
}

// check waits for every event of want, then checks each delivered one
// against SPEC.md A.3 (events of maybe may arrive) and the duplicates
// against maxDups; it returns the number of duplicates.
func (e *mongoNV) check(t *testing.T, c *testutil.Collector, want, maybe map[string]string, maxDups int) int {
	t.Helper()
	c.WaitUntil(2*deliveryTimeout, fmt.Sprintf("all %d events delivered", len(want)), func() error { return e.sink.missing(want) })
	time.Sleep(time.Second) // anything extra would have arrived by now
	s := e.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	dups := 0
	for id, n := range s.count {
		node, ok := want[id]
		if !ok {
			node, ok = maybe[id]
		}
		if !ok {
			t.Errorf("an event nobody inserted: %s", s.bodies[id])
			continue
		}
		dups += n - 1
		if eq, err := jsontest.Equal([]byte(wantNVEvent(id, node)), s.bodies[id]); err != nil || !eq {
			t.Errorf("event %s:\n got  %s\n want %s (%v)", id, s.bodies[id], wantNVEvent(id, node), err)
		}
	}
	if dups > maxDups {
		t.Errorf("%d duplicates, more than the in-flight window allows (%d)", dups, maxDups)
	}
	if s.bad.Load() > 0 {
		t.Errorf("%d requests that were not structured CloudEvents with a bearer token", s.bad.Load())
	}
	return dups
}

// maxInFlight is the datastore receiver's default max_in_flight: the most
// events one crash may deliver again.
const maxInFlight = 2000

// TestNVSentinelMongoDB: the NVSentinel pipeline on MongoDB through
// courier-mongo, over TLS with an X.509 client certificate, with the
// documents NVSentinel stores: a backfill of history with inserts during
// it, live inserts, updates of exported documents (not exported again),
// the collector killed with SIGKILL twice under load, the stand-in killed
// and restarted under load. Every event arrives exactly as SPEC.md A.3
// says; nothing is lost; duplicates stay within the in-flight window.
func TestNVSentinelMongoDB(t *testing.T) {
	e := newMongoNV(t)
	want := map[string]string{} // id → node
	e.insertHistory(t, "history", 2000, want)
	c := e.start(t)
	load := startMongoLoader(e.coll, "live", 100)

	// kill -9 during the backfill (rate-limited to 1,000/s), and again
	// once it is live.
	e.waitDelivered(c, 500)
	c.Kill()
	c = e.start(t)
	e.waitDelivered(c, 2300)
	c.Kill()
	c = e.start(t)
	e.waitDelivered(c, e.sink.delivered()+100)

	// Updates of exported documents, as NVSentinel's other modules write
	// them: not exported again.
	var some []bson.ObjectID
	for id := range want {
		oid, _ := bson.ObjectIDFromHex(id)
		if some = append(some, oid); len(some) == 20 {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.coll.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: some}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "healtheventstatus.nodequarantined", Value: "Quarantined"}}}}); err != nil {
		t.Fatal(err)
	}

	// The stand-in killed and restarted on the same data and address
	// under load: the receiver and the loader reconnect.
	e.m.kill()
	time.Sleep(time.Second)
	e.m.start(t)
	e.waitDelivered(c, e.sink.delivered()+200)

	acked, maybe := load.stop()
	for id, node := range acked {
		want[id] = node
	}
	dups := e.check(t, c, want, maybe, 2*maxInFlight)
	t.Logf("%d events (2000 history, %d live; %d more inserts failed), %d duplicates after two SIGKILLs and a stand-in restart",
		len(want), len(want)-2000, len(maybe), dups)
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestNVSentinelMongoDBHistoryLost: the change history is lost while
// Courier is down (an oplog that rolled over: the stand-in trims it). The
// receiver's resume token is refused with ChangeStreamHistoryLost; it says
// so, counts it, and exports again from the last delivered event's
// createdAt (less a minute), so that every event it could still read
// arrives, with duplicates, and nothing is lost.
func TestNVSentinelMongoDBHistoryLost(t *testing.T) {
	e := newMongoNV(t)
	want := map[string]string{}
	c := e.start(t)
	load := startMongoLoader(e.coll, "before", 100)
	e.waitDelivered(c, 100)
	c.Kill()
	acked, maybe := load.stop()
	maps.Copy(want, acked)
	// While Courier is down: more events, then the history is lost.
	load = startMongoLoader(e.coll, "down", 100)
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.coll.Database().Client().Database("admin").RunCommand(ctx, bson.D{{Key: "courierTrimHistory", Value: 1}}).Err(); err != nil {
		t.Fatal(err)
	}
	c = e.start(t)
	c.WaitUntil(deliveryTimeout, "the recovery logged", func() error {
		if !strings.Contains(c.Output(), "The resume token can no longer be used") {
			return errors.New("not yet")
		}
		return nil
	})
	acked2, maybe2 := load.stop()
	maps.Copy(want, acked2)
	maps.Copy(maybe, maybe2)
	dups := e.check(t, c, want, maybe, 2*maxInFlight)
	t.Logf("%d events, %d duplicates after the history was lost", len(want), dups)
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestNVSentinelMongoDBFailover: two replicas on MongoDB; the leader is
// killed with SIGKILL under load and the standby takes the lease over and
// delivers within 15 s, from the token, with nothing lost.
func TestNVSentinelMongoDBFailover(t *testing.T) {
	e := newMongoNV(t)
	first, second := e.start(t), e.start(t)
	load := startMongoLoader(e.coll, "load", 100)
	e.waitDelivered(first, 50)
	leader, standby := first, second
	if !strings.Contains(first.Output(), leadingLog) {
		leader, standby = second, first
	}
	if !strings.Contains(leader.Output(), leadingLog) || strings.Contains(standby.Output(), leadingLog) {
		t.Fatalf("want exactly one leader; outputs:\n%s\n---\n%s", first.Output(), second.Output())
	}
	leader.Kill()
	killed := time.Now()
	before := e.sink.delivered()
	standby.WaitUntil(15*time.Second, "the standby delivering within 15 s of the leader's SIGKILL", func() error {
		if e.sink.delivered() <= before+50 {
			return fmt.Errorf("%d delivered", e.sink.delivered())
		}
		return nil
	})
	t.Logf("deliveries resumed %.1f s after the kill", time.Since(killed).Seconds())
	acked, maybe := load.stop()
	e.check(t, standby, acked, maybe, maxInFlight)
	if err := standby.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
