package datastorereceiver

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/collector/config/configopaque"
)

// TestMongoDBStream runs the receiver against a real MongoDB replica set
// when COURIER_TEST_MONGODB_URI names one (no MongoDB server can be
// installed on the project's machines; the driver-level tests of
// internal/mongo say more): events inserted as NVSentinel's platform
// connector does (lowercase BSON) arrive with their _id as the event id.
func TestMongoDBStream(t *testing.T) {
	uri := os.Getenv("COURIER_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("COURIER_TEST_MONGODB_URI is not set: this test needs a MongoDB replica set")
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
