package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Servers for the integration tests. There is no MongoDB on the
// developers' machines: make test runs these tests next to courier-mongo
// (testbed/mongo), a replica-set stand-in that sets both; with neither set
// the tests that need one are skipped, saying so.
const (
	// A replica set (change streams): every test.
	envReplicaSet = "COURIER_TEST_MONGODB_URI"
	// A server without change streams (a standalone mongod, or the
	// FerretDB inside courier-mongo): the queries, tokens and leases, and
	// the refusal of Open.
	envNoChangeStreams = "COURIER_TEST_FERRETDB_URI"
)

func replicaSetURI(t *testing.T) string {
	t.Helper()
	uri := os.Getenv(envReplicaSet)
	if uri == "" {
		t.Skip(envReplicaSet + " is not set: this test needs a MongoDB replica set " +
			"(make test runs it next to the stand-in: make mongo && .tools/courier-mongo -- go test ./receiver/datastorereceiver/internal/mongo; " +
			"or a real one: mongod --replSet rs0 --dbpath DIR, rs.initiate() in mongosh, and " + envReplicaSet + "=mongodb://localhost:27017/?replicaSet=rs0)")
	}
	return uri
}

// servers returns the URIs of every server the environment names, for
// tests that need no change stream.
func servers(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	if uri := os.Getenv(envReplicaSet); uri != "" {
		out["replicaset"] = uri
	}
	if uri := os.Getenv(envNoChangeStreams); uri != "" {
		out["nochangestreams"] = uri
	}
	if len(out) == 0 {
		t.Skip("neither " + envReplicaSet + " nor " + envNoChangeStreams + " is set: no MongoDB server to test against " +
			"(make mongo && .tools/courier-mongo -- go test ./receiver/datastorereceiver/internal/mongo " +
			"runs them against the replica-set stand-in and FerretDB over a throwaway PostgreSQL)")
	}
	return out
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// testDB is a fresh database with NVSentinel's collections and index.
type testDB struct {
	cfg    Config
	client *mongo.Client
	events *mongo.Collection
	tokens *mongo.Collection
}

func newTestDB(t *testing.T, uri string) testDB {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "courier_test_" + hex.EncodeToString(b[:])
	db := client.Database(name)
	ctx := testCtx(t, 30*time.Second)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	for _, c := range []string{DefaultCollection, DefaultTokenCollection} {
		if err := db.CreateCollection(ctx, c); err != nil {
			t.Fatalf("create collection %s: %v", c, err)
		}
	}
	// NVSentinel's TTL index, its only index on createdAt (FerretDB v1 has
	// no TTL indexes: a plain one there).
	idx := mongo.IndexModel{
		Keys:    bson.D{{Key: "createdAt", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(30 * 24 * 3600),
	}
	_, err = db.Collection(DefaultCollection).Indexes().CreateOne(ctx, idx)
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(codeNotImplemented) {
		idx.Options = nil
		_, err = db.Collection(DefaultCollection).Indexes().CreateOne(ctx, idx)
	}
	if err != nil {
		t.Fatalf("create index: %v", err)
	}
	return testDB{
		cfg:    Config{URI: uri, Database: name},
		client: client,
		events: db.Collection(DefaultCollection),
		tokens: db.Collection(DefaultTokenCollection),
	}
}

// healthDoc is a document as NVSentinel's platform connector inserts it:
// the Go driver's default codec, lowercase keys, nulls for empty values.
func healthDoc(id bson.ObjectID, node string, at time.Time) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "createdAt", Value: at},
		{Key: "healthevent", Value: bson.D{
			{Key: "version", Value: int64(1)},
			{Key: "agent", Value: "gpu-health-monitor"},
			{Key: "componentclass", Value: "GPU"},
			{Key: "checkname", Value: "GpuXidError"},
			{Key: "isfatal", Value: true},
			{Key: "ishealthy", Value: false},
			{Key: "message", Value: "XID error occurred"},
			{Key: "recommendedaction", Value: int32(15)},
			{Key: "errorcode", Value: bson.A{"79"}},
			{Key: "entitiesimpacted", Value: bson.A{bson.D{{Key: "entitytype", Value: "GPU"}, {Key: "entityvalue", Value: "0"}}}},
			{Key: "metadata", Value: bson.D{{Key: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}},
			{Key: "generatedtimestamp", Value: bson.D{{Key: "seconds", Value: at.Unix()}, {Key: "nanos", Value: int32(at.Nanosecond())}}},
			{Key: "nodename", Value: node},
			{Key: "quarantineoverrides", Value: nil},
			{Key: "drainoverrides", Value: nil},
			{Key: "processingstrategy", Value: int32(1)},
			{Key: "id", Value: ""},
			{Key: "customrecommendedaction", Value: ""},
		}},
		{Key: "healtheventstatus", Value: bson.D{{Key: "nodequarantined", Value: nil}}},
	}
}

// insert adds n events for node, created at at(i), one insert each, and
// returns their ids in insert order.
func (d testDB) insert(t *testing.T, n int, node string, at func(i int) time.Time) []string {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	docs := make([]any, n)
	ids := make([]string, n)
	for i := range n {
		id := bson.NewObjectID()
		ids[i] = id.Hex()
		docs[i] = healthDoc(id, node, at(i).UTC().Truncate(time.Millisecond))
	}
	if n == 0 {
		return nil
	}
	if _, err := d.events.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func now(int) time.Time { return time.Now() }

func open(t *testing.T, cfg Config) *Source {
	t.Helper()
	src, err := Open(testCtx(t, 30*time.Second), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("open source: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// collect calls Next until it has n rows, failing after timeout.
func collect(t *testing.T, src *Source, n int, timeout time.Duration) []Row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var rows []Row
	for len(rows) < n {
		got, err := src.Next(ctx, n-len(rows))
		if err != nil {
			t.Fatalf("after %d of %d rows: %v", len(rows), n, err)
		}
		if len(got) == 0 || len(got) > n-len(rows) {
			t.Fatalf("Next(%d) returned %d rows", n-len(rows), len(got))
		}
		rows = append(rows, got...)
	}
	return rows
}

// expectNothing asserts that Next returns no row within d.
func expectNothing(t *testing.T, src *Source, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	rows, err := src.Next(ctx, 100)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want no rows, got %d rows (%v), error %v", len(rows), rowIDs(rows), err)
	}
}
