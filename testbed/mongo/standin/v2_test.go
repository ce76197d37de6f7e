package standin

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// changeEvent is a change event as the change streams specification
// describes it.
type changeEvent struct {
	ID            bson.Raw       `bson:"_id"`
	OperationType string         `bson:"operationType"`
	ClusterTime   bson.Timestamp `bson:"clusterTime"`
	WallTime      time.Time      `bson:"wallTime"`
	NS            struct {
		DB   string `bson:"db"`
		Coll string `bson:"coll"`
	} `bson:"ns"`
	DocumentKey       bson.Raw `bson:"documentKey"`
	FullDocument      bson.Raw `bson:"fullDocument"`
	UpdateDescription *struct {
		UpdatedFields   bson.Raw `bson:"updatedFields"`
		RemovedFields   []string `bson:"removedFields"`
		TruncatedArrays bson.Raw `bson:"truncatedArrays"`
	} `bson:"updateDescription"`
}

func next(t *testing.T, ctx context.Context, cs *mongo.ChangeStream) changeEvent {
	t.Helper()
	if !cs.Next(ctx) {
		t.Fatalf("change stream: %v", cs.Err())
	}
	var ev changeEvent
	if err := cs.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestReplicaSetHello: a replicaSet= URI selects the stand-in as the
// primary of the named set, and hello says what a primary says.
func TestReplicaSetHello(t *testing.T) {
	client := connectV2(t, shared.URI())
	ctx := testCtx(t, 30*time.Second)
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		t.Fatal(err)
	}
	var hello bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		t.Fatal(err)
	}
	if hello["setName"] != "rs0" || hello["isWritablePrimary"] != true || hello["primary"] != shared.Addr() || hello["me"] != shared.Addr() {
		t.Fatalf("hello: %v", hello)
	}
	// A different set name is not this server.
	other := connectV2(t, "mongodb://"+shared.Addr()+"/?replicaSet=other", options.Client().SetServerSelectionTimeout(time.Second))
	if err := other.Ping(ctx, readpref.Primary()); err == nil {
		t.Fatal("a client for replica set other selected the stand-in of rs0")
	}
}

// TestChangeEvents: insert, update, replace and delete events, in commit
// order, with the fields the specification gives each.
func TestChangeEvents(t *testing.T) {
	client := connectV2(t, shared.URI())
	ctx := testCtx(t, time.Minute)
	coll := client.Database(randomName("db")).Collection("events")
	if err := coll.Database().CreateCollection(ctx, "events"); err != nil {
		t.Fatal(err)
	}
	cs, err := coll.Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetFullDocument(options.UpdateLookup))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close(ctx)
	start := time.Now().Add(-time.Second)

	id := bson.NewObjectID()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "a", Value: int32(1)}, {Key: "nested", Value: bson.D{{Key: "x", Value: "old"}, {Key: "y", Value: int64(2)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.UpdateByID(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "nested.x", Value: "new"}, {Key: "b", Value: true}}}, {Key: "$unset", Value: bson.D{{Key: "a", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "c", Value: "replaced"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		t.Fatal(err)
	}

	var evs []changeEvent
	for range 4 {
		evs = append(evs, next(t, ctx, cs))
	}
	var ops []string
	for i, ev := range evs {
		ops = append(ops, ev.OperationType)
		if ev.NS.DB != coll.Database().Name() || ev.NS.Coll != "events" {
			t.Errorf("event %d: ns %+v", i, ev.NS)
		}
		if got, _ := ev.DocumentKey.Lookup("_id").ObjectIDOK(); got != id || len(mustElems(t, ev.DocumentKey)) != 1 {
			t.Errorf("event %d: documentKey %v", i, ev.DocumentKey)
		}
		if ev.ClusterTime.T < uint32(start.Unix()) || ev.WallTime.Before(start) || ev.ID.Lookup("_data").Type != bson.TypeString {
			t.Errorf("event %d: clusterTime %v wallTime %v _id %v", i, ev.ClusterTime, ev.WallTime, ev.ID)
		}
		if i > 0 && !evs[i-1].ClusterTime.Before(ev.ClusterTime) {
			t.Errorf("event %d: cluster time %v not after %v", i, ev.ClusterTime, evs[i-1].ClusterTime)
		}
	}
	if !slices.Equal(ops, []string{"insert", "update", "replace", "delete"}) {
		t.Fatalf("operations %v", ops)
	}
	if v, _ := evs[0].FullDocument.Lookup("nested", "x").StringValueOK(); v != "old" || evs[0].UpdateDescription != nil {
		t.Errorf("insert: %+v", evs[0])
	}
	up := evs[1].UpdateDescription
	if up == nil {
		t.Fatal("update without updateDescription")
	}
	if v, _ := up.UpdatedFields.Lookup("nested.x").StringValueOK(); v != "new" || up.UpdatedFields.Lookup("b").Boolean() != true ||
		len(mustElems(t, up.UpdatedFields)) != 2 || !slices.Equal(up.RemovedFields, []string{"a"}) {
		t.Errorf("update description: updated %v removed %v", up.UpdatedFields, up.RemovedFields)
	}
	if v, _ := evs[1].FullDocument.Lookup("nested", "x").StringValueOK(); v != "new" {
		t.Errorf("update with updateLookup: fullDocument %v", evs[1].FullDocument)
	}
	if v, _ := evs[2].FullDocument.Lookup("c").StringValueOK(); v != "replaced" || evs[2].UpdateDescription != nil {
		t.Errorf("replace: %+v", evs[2])
	}
	if evs[3].FullDocument != nil || evs[3].UpdateDescription != nil {
		t.Errorf("delete: %+v", evs[3])
	}
}

func mustElems(t *testing.T, d bson.Raw) []bson.RawElement {
	t.Helper()
	e, err := d.Elements()
	if err != nil {
		t.Fatal(err)
	}
	return e
}
