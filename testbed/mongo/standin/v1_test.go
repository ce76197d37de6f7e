package standin

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readconcern"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
)

// TestDriverV1AsNVSentinel: the Go driver v1 (the version NVSentinel's
// store-client uses) as NVSentinel's event-exporter uses it: TLS with an
// X.509 client certificate, a replicaSet URI, its inserts pipeline with
// fullDocument updateLookup on a secondaryPreferred collection, and its
// resume token document (majority, upsert) resumed from after a restart
// of the watcher.
func TestDriverV1AsNVSentinel(t *testing.T) {
	ts := startTLS(t)
	ctx := testCtx(t, time.Minute)
	opts := options.Client().ApplyURI(ts.s.URI()).
		SetServerSelectionTimeout(10 * time.Second).
		SetTLSConfig(ts.clientTLS(ts.client)).
		SetAuth(options.Credential{AuthMechanism: "MONGODB-X509", AuthSource: "$external"})
	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		t.Fatal(err)
	}
	db := client.Database(randomName("nvsentinel"))
	if err := db.CreateCollection(ctx, "HealthEvents"); err != nil {
		t.Fatal(err)
	}
	events := db.Collection("HealthEvents", options.Collection().SetReadPreference(readpref.SecondaryPreferred()))
	tokens := db.Collection("ResumeTokens", options.Collection().
		SetWriteConcern(writeconcern.Majority()).SetReadConcern(readconcern.Majority()).SetReadPreference(readpref.Primary()))
	pipeline := mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"insert"}}}}}}}}

	watch := func() *mongo.ChangeStream {
		o := options.ChangeStream().SetFullDocument(options.UpdateLookup)
		var tok struct {
			ResumeToken bson.Raw `bson:"resumeToken"`
		}
		if err := tokens.FindOne(ctx, bson.M{"clientName": "event-exporter"}).Decode(&tok); err == nil {
			o.SetResumeAfter(tok.ResumeToken)
		} else if err != mongo.ErrNoDocuments {
			t.Fatal(err)
		}
		cs, err := events.Watch(ctx, pipeline, o)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	insert := func(n int) []primitive.ObjectID {
		var ids []primitive.ObjectID
		for i := range n {
			id := primitive.NewObjectID()
			doc := bson.D{{Key: "_id", Value: id}, {Key: "createdAt", Value: time.Now()},
				{Key: "healthevent", Value: bson.D{{Key: "nodename", Value: "node"}, {Key: "recommendedaction", Value: int32(i)}}}}
			if _, err := events.InsertOne(ctx, doc); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	read := func(cs *mongo.ChangeStream, n int) []primitive.ObjectID {
		var ids []primitive.ObjectID
		for len(ids) < n {
			if !cs.Next(ctx) {
				t.Fatalf("after %d of %d: %v", len(ids), n, cs.Err())
			}
			var ev struct {
				OperationType string `bson:"operationType"`
				FullDocument  struct {
					ID primitive.ObjectID `bson:"_id"`
				} `bson:"fullDocument"`
			}
			if err := cs.Decode(&ev); err != nil || ev.OperationType != "insert" {
				t.Fatalf("event %v: %v", cs.Current, err)
			}
			ids = append(ids, ev.FullDocument.ID)
			// MarkProcessed.
			if _, err := tokens.UpdateOne(ctx, bson.M{"clientName": "event-exporter"},
				bson.M{"$set": bson.M{"resumeToken": cs.ResumeToken()}}, options.Update().SetUpsert(true)); err != nil {
				t.Fatal(err)
			}
		}
		return ids
	}

	cs := watch()
	ids := insert(5)
	// Updates and deletes are filtered out.
	if _, err := events.UpdateByID(ctx, ids[0], bson.M{"$set": bson.M{"healtheventstatus.nodequarantined": "Quarantined"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.DeleteOne(ctx, bson.M{"_id": ids[1]}); err != nil {
		t.Fatal(err)
	}
	got := read(cs, 3)
	_ = cs.Close(ctx)
	ids = append(ids, insert(2)...)
	cs = watch()
	defer cs.Close(ctx)
	got = append(got, read(cs, 4)...)
	if !slices.Equal(got, ids) {
		t.Fatalf("got %v\nwant %v", got, ids)
	}
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if cs.TryNext(tctx) {
		t.Fatalf("an event beyond the inserts: %v", cs.Current)
	}
}
