package datastorereceiver

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
)

// TestMongoDBStream runs the receiver against the MongoDB replica set
// COURIER_TEST_MONGODB_URI names: make test runs it next to courier-mongo
// (testbed/mongo), the replica-set stand-in, or against a real one when
// the variable is set (the driver-level tests of internal/mongo say more):
// events inserted as NVSentinel's platform
// connector does (lowercase BSON) arrive with their _id as the event id.
func TestMongoDBStream(t *testing.T) {
	uri := os.Getenv("COURIER_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("COURIER_TEST_MONGODB_URI is not set: this test needs a MongoDB replica set (make test runs it next to courier-mongo: make mongo && .tools/courier-mongo -- go test -run Mongo ./receiver/datastorereceiver)")
	}
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(ctx) })
	db := fmt.Sprintf("courier_receiver_%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = client.Database(db).Drop(ctx) })
	coll := client.Database(db).Collection("HealthEvents")

	cfg := createDefaultConfig().(*Config)
	cfg.Provider = ProviderMongoDB
	cfg.MongoDB.URI = configopaque.String(uri)
	cfg.MongoDB.Database = db
	cfg.Backfill.RateLimit = 0
	cfg.LeaderElection.RetryInterval = 200 * time.Millisecond
	cfg.LeaderElection.LeaseDuration = time.Second
	s := &sink{}
	start(t, cfg, s)

	var want []string
	for i := range 20 {
		id := bson.NewObjectID()
		doc := bson.D{
			{Key: "_id", Value: id},
			{Key: "createdAt", Value: time.Now()},
			{Key: "healthevent", Value: bson.D{
				{Key: "version", Value: int64(1)}, {Key: "agent", Value: "gpu-health-monitor"},
				{Key: "componentclass", Value: "GPU"}, {Key: "checkname", Value: "GpuXidError"},
				{Key: "isfatal", Value: true}, {Key: "ishealthy", Value: false}, {Key: "message", Value: "XID error occurred"},
				{Key: "recommendedaction", Value: int32(15)}, {Key: "errorcode", Value: bson.A{"79"}},
				{Key: "entitiesimpacted", Value: bson.A{bson.D{{Key: "entitytype", Value: "GPU"}, {Key: "entityvalue", Value: "0"}}}},
				{Key: "generatedtimestamp", Value: bson.D{{Key: "seconds", Value: int64(1784025000)}, {Key: "nanos", Value: int32(0)}}},
				{Key: "nodename", Value: fmt.Sprintf("node-%d", i)}, {Key: "processingstrategy", Value: int32(1)},
			}},
		}
		if _, err := coll.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
		want = append(want, id.Hex())
	}
	waitFor(t, "20 events", func() bool { return s.count() >= 20 })
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %v, want each of %v once", got, want)
	}
}

// statusHost records the component status events reported to it.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *statusHost) permanent() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range h.events {
		if ev.Status() == componentstatus.StatusPermanentError {
			return ev.Err()
		}
	}
	return nil
}

// TestMongoDBWithoutChangeStreams: a server without change streams (a
// standalone mongod; here the FerretDB inside courier-mongo, which make test
// starts and names in COURIER_TEST_FERRETDB_URI) is refused with a
// permanent error saying a replica set is needed, and no retry loop.
func TestMongoDBWithoutChangeStreams(t *testing.T) {
	uri := os.Getenv("COURIER_TEST_FERRETDB_URI")
	if uri == "" {
		t.Skip("COURIER_TEST_FERRETDB_URI is not set: make test runs this test next to courier-mongo (testbed/mongo), which sets it")
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Provider = ProviderMongoDB
	cfg.MongoDB.URI = configopaque.String(uri)
	cfg.MongoDB.Database = fmt.Sprintf("courier_standalone_%d", time.Now().UnixNano())
	cfg.LeaderElection.Enabled = false
	host := &statusHost{Host: componenttest.NewNopHost()}
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	waitFor(t, "a permanent error", func() bool { return host.permanent() != nil })
	if err := host.permanent(); !strings.Contains(err.Error(), "replica set") {
		t.Fatalf("status error %q does not say a replica set is needed", err)
	}
}
