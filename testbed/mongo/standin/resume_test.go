package standin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// newColl is a fresh collection (and database) on the shared stand-in.
func newColl(t *testing.T, client *mongo.Client) *mongo.Collection {
	t.Helper()
	db := client.Database(randomName("db"))
	if err := db.CreateCollection(testCtx(t, 30*time.Second), "events"); err != nil {
		t.Fatal(err)
	}
	return db.Collection("events")
}

func insertN(t *testing.T, coll *mongo.Collection, n int, doc func(i int) bson.D) []bson.ObjectID {
	t.Helper()
	ids := make([]bson.ObjectID, n)
	docs := make([]any, n)
	for i := range n {
		ids[i] = bson.NewObjectID()
		docs[i] = append(bson.D{{Key: "_id", Value: ids[i]}}, doc(i)...)
	}
	if _, err := coll.InsertMany(testCtx(t, time.Minute), docs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func plain(i int) bson.D { return bson.D{{Key: "i", Value: int32(i)}} }

// readIDs reads n events' documentKey._id.
func readIDs(t *testing.T, ctx context.Context, cs *mongo.ChangeStream, n int) []bson.ObjectID {
	t.Helper()
	var out []bson.ObjectID
	for len(out) < n {
		if !cs.Next(ctx) {
			t.Fatalf("after %d of %d events: %v", len(out), n, cs.Err())
		}
		id, _ := cs.Current.Lookup("documentKey", "_id").ObjectIDOK()
		out = append(out, id)
	}
	return out
}

// TestResumeOptions: resumeAfter and startAfter continue after the event
// whose token they are given, startAtOperationTime at the event of that
// cluster time; every batch carries a postBatchResumeToken.
func TestResumeOptions(t *testing.T) {
	client := connectV2(t, shared.URI())
	ctx := testCtx(t, time.Minute)
	coll := newColl(t, client)
	cs, err := coll.Watch(ctx, mongo.Pipeline{})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close(ctx)
	if cs.ResumeToken() == nil {
		t.Fatal("no postBatchResumeToken on the first (empty) batch")
	}
	ids := insertN(t, coll, 10, plain)
	var tokens []bson.Raw
	var times []bson.Timestamp
	for range 10 {
		ev := next(t, ctx, cs)
		tokens = append(tokens, slices.Clone(ev.ID))
		times = append(times, ev.ClusterTime)
	}
	// An empty getMore still returns a token, at least as new as the last.
	tryCtx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	if cs.TryNext(tryCtx) {
		t.Fatal("an event nobody wrote")
	}
	cancel()
	if cs.ResumeToken() == nil {
		t.Fatal("no postBatchResumeToken after an empty getMore")
	}

	for name, opts := range map[string]*options.ChangeStreamOptionsBuilder{
		"resumeAfter":          options.ChangeStream().SetResumeAfter(tokens[3]),
		"startAfter":           options.ChangeStream().SetStartAfter(tokens[3]),
		"startAtOperationTime": options.ChangeStream().SetStartAtOperationTime(&times[4]),
	} {
		t.Run(name, func(t *testing.T) {
			cs, err := coll.Watch(ctx, mongo.Pipeline{}, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close(ctx)
			if got := readIDs(t, ctx, cs, 6); !slices.Equal(got, ids[4:]) {
				t.Fatalf("got %v, want %v", got, ids[4:])
			}
		})
	}
	t.Run("bad token", func(t *testing.T) {
		_, err := coll.Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetResumeAfter(bson.D{{Key: "_data", Value: "00"}}))
		var se mongo.ServerError
		if !errors.As(err, &se) || !se.HasErrorCode(260) {
			t.Fatalf("resume after a token of another server: %v, want InvalidResumeToken (260)", err)
		}
	})
}

// TestMatchStages: the $match stages NVSentinel's store-client and
// Courier's receiver put after $changeStream, and a $project.
func TestMatchStages(t *testing.T) {
	client := connectV2(t, shared.URI())
	ctx := testCtx(t, time.Minute)
	coll := newColl(t, client)
	doc := func(i int) bson.D {
		d := bson.D{{Key: "healthevent", Value: bson.D{
			{Key: "agent", Value: []string{"gpu-health-monitor", "health-events-analyzer"}[i%2]},
			{Key: "ishealthy", Value: i%3 == 0},
			{Key: "processingstrategy", Value: int32(i % 3)},
		}}}
		if i%5 == 0 { // no processingstrategy
			d = bson.D{{Key: "healthevent", Value: bson.D{{Key: "agent", Value: "gpu-health-monitor"}, {Key: "ishealthy", Value: false}}}}
		}
		return append(d, bson.E{Key: "healtheventstatus", Value: bson.D{{Key: "nodequarantined", Value: nil}}})
	}
	watch := func(p mongo.Pipeline) *mongo.ChangeStream {
		cs, err := coll.Watch(ctx, p, options.ChangeStream().SetFullDocument(options.UpdateLookup))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close(context.Background()) })
		return cs
	}
	inserts := watch(mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"insert"}}}}}}}})
	// NVSentinel's BuildProcessableNonFatalUnhealthyInsertsPipeline.
	nonFatal := watch(mongo.Pipeline{{{Key: "$match", Value: bson.D{
		{Key: "operationType", Value: "insert"},
		{Key: "fullDocument.healthevent.agent", Value: bson.D{{Key: "$ne", Value: "health-events-analyzer"}}},
		{Key: "fullDocument.healthevent.ishealthy", Value: false},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "fullDocument.healthevent.processingstrategy", Value: int32(1)}},
			bson.D{{Key: "fullDocument.healthevent.processingstrategy", Value: int32(2)}},
			bson.D{{Key: "fullDocument.healthevent.processingstrategy", Value: bson.D{{Key: "$exists", Value: false}}}},
		}},
	}}}})
	// Courier's receiver: inserts, projected.
	projected := watch(mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "operationType", Value: "insert"}}}},
		{{Key: "$project", Value: bson.D{{Key: "clusterTime", Value: 1}, {Key: "documentKey", Value: 1}, {Key: "fullDocument", Value: 1}}}},
	})
	updates := watch(mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "operationType", Value: "update"}}}}})

	ids := insertN(t, coll, 30, doc)
	if _, err := coll.UpdateByID(ctx, ids[7], bson.D{{Key: "$set", Value: bson.D{{Key: "healtheventstatus.nodequarantined", Value: "Quarantined"}}}}); err != nil {
		t.Fatal(err)
	}
	var wantNonFatal []bson.ObjectID
	for i, id := range ids {
		agent, unhealthy, ps, hasPS := i%2 == 0, i%3 != 0, i%3, i%5 != 0
		if i%5 == 0 {
			agent, unhealthy = true, true
		}
		if agent && unhealthy && (!hasPS || ps == 1 || ps == 2) {
			wantNonFatal = append(wantNonFatal, id)
		}
	}
	if got := readIDs(t, ctx, inserts, 30); !slices.Equal(got, ids) {
		t.Errorf("inserts: %v", got)
	}
	if got := readIDs(t, ctx, nonFatal, len(wantNonFatal)); !slices.Equal(got, wantNonFatal) {
		t.Errorf("non-fatal unhealthy: got %v, want %v", got, wantNonFatal)
	}
	for range 30 {
		if !projected.Next(ctx) {
			t.Fatal(projected.Err())
		}
		keys := []string{}
		for _, e := range mustElems(t, projected.Current) {
			keys = append(keys, e.Key())
		}
		if !slices.Equal(keys, []string{"_id", "clusterTime", "documentKey", "fullDocument"}) {
			t.Fatalf("projected event has %v", keys)
		}
	}
	up := next(t, ctx, updates)
	if v, _ := up.UpdateDescription.UpdatedFields.Lookup("healtheventstatus.nodequarantined").StringValueOK(); v != "Quarantined" {
		t.Fatalf("update: %v", up.UpdateDescription.UpdatedFields)
	}
	// Nothing else reached the filtered streams.
	for name, cs := range map[string]*mongo.ChangeStream{"inserts": inserts, "non-fatal": nonFatal, "updates": updates} {
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		if cs.TryNext(tctx) {
			t.Errorf("%s: unexpected event %v", name, cs.Current)
		}
		cancel()
	}
}

// TestUnsupportedStage: a stage the stand-in cannot run is refused when
// the stream opens, naming it, not ignored.
func TestUnsupportedStage(t *testing.T) {
	client := connectV2(t, shared.URI())
	coll := newColl(t, client)
	_, err := coll.Watch(testCtx(t, 30*time.Second), mongo.Pipeline{{{Key: "$addFields", Value: bson.D{{Key: "x", Value: 1}}}}})
	if err == nil || !containsAll(err.Error(), "$addFields", "courier-mongo") {
		t.Fatalf("$addFields: %v", err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
