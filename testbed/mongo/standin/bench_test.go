package standin

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// healthDoc is an NVSentinel health event document (SPEC.md A.2).
func healthDoc(node string, at time.Time) bson.D {
	return bson.D{
		{Key: "_id", Value: bson.NewObjectID()},
		{Key: "createdAt", Value: at},
		{Key: "healthevent", Value: bson.D{
			{Key: "version", Value: int64(1)}, {Key: "agent", Value: "gpu-health-monitor"},
			{Key: "componentclass", Value: "GPU"}, {Key: "checkname", Value: "GpuXidError"},
			{Key: "isfatal", Value: true}, {Key: "ishealthy", Value: false}, {Key: "message", Value: "XID error occurred"},
			{Key: "recommendedaction", Value: int32(15)}, {Key: "errorcode", Value: bson.A{"79"}},
			{Key: "entitiesimpacted", Value: bson.A{bson.D{{Key: "entitytype", Value: "GPU"}, {Key: "entityvalue", Value: "0"}}}},
			{Key: "metadata", Value: bson.D{{Key: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}},
			{Key: "generatedtimestamp", Value: bson.D{{Key: "seconds", Value: at.Unix()}, {Key: "nanos", Value: int32(at.Nanosecond())}}},
			{Key: "nodename", Value: node}, {Key: "quarantineoverrides", Value: nil}, {Key: "drainoverrides", Value: nil},
			{Key: "processingstrategy", Value: int32(1)}, {Key: "id", Value: ""}, {Key: "customrecommendedaction", Value: ""},
		}},
		{Key: "healtheventstatus", Value: bson.D{{Key: "nodequarantined", Value: nil}}},
	}
}

// BenchmarkChangeStream: events/s through a change stream (the receiver's
// pipeline: inserts, projected) of health events already in the history,
// and the insert rate through FerretDB that wrote them.
func BenchmarkChangeStream(b *testing.B) {
	const n = 20_000
	client := connectV2(b, shared.URI())
	ctx := testCtx(b, 10*time.Minute)
	for b.Loop() {
		db := client.Database(randomName("bench"))
		coll := db.Collection("HealthEvents")
		cs, err := coll.Watch(ctx, mongo.Pipeline{})
		if err != nil {
			b.Fatal(err)
		}
		start := cs.ResumeToken()
		_ = cs.Close(ctx)
		began := time.Now()
		for i := 0; i < n; i += 1000 {
			docs := make([]any, 1000)
			for j := range docs {
				docs[j] = healthDoc("node", time.Now())
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(n/time.Since(began).Seconds(), "inserts/s")
		began = time.Now()
		cs, err = coll.Watch(ctx, mongo.Pipeline{
			{{Key: "$match", Value: bson.D{{Key: "operationType", Value: "insert"}}}},
			{{Key: "$project", Value: bson.D{{Key: "clusterTime", Value: 1}, {Key: "documentKey", Value: 1}, {Key: "fullDocument", Value: 1}}}},
		}, options.ChangeStream().SetResumeAfter(start))
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			if !cs.Next(ctx) {
				b.Fatalf("after %d events: %v", i, cs.Err())
			}
		}
		b.ReportMetric(n/time.Since(began).Seconds(), "events/s")
		_ = cs.Close(ctx)
		_ = db.Drop(ctx)
	}
}

// BenchmarkBackfillFind: pages of the receiver's backfill span query
// (createdAt range, sorted, limit 500) over 20,000 stored health events;
// answered by SQL over the createdAt index (sqlfind), each page costs
// about the same whatever the history's size.
func BenchmarkBackfillFind(b *testing.B) {
	const n, page = 20_000, 500
	client := connectV2(b, shared.URI())
	ctx := testCtx(b, 10*time.Minute)
	db := client.Database(randomName("bench"))
	coll := db.Collection("HealthEvents")
	start := time.Now().Add(-time.Hour)
	for i := 0; i < n; i += 1000 {
		docs := make([]any, 1000)
		for j := range docs {
			docs[j] = healthDoc("node", start.Add(time.Duration(i+j)*time.Millisecond))
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	end := start.Add(n * time.Millisecond)
	before := shared.SQLFinds()
	pages := 0
	for b.Loop() {
		from := start.Add(-time.Millisecond)
		for {
			cur, err := coll.Find(ctx, bson.D{{Key: "createdAt", Value: bson.D{{Key: "$gt", Value: from}, {Key: "$lte", Value: end}}}},
				options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(page).SetBatchSize(page))
			if err != nil {
				b.Fatal(err)
			}
			var got []struct {
				CreatedAt time.Time `bson:"createdAt"`
			}
			if err := cur.All(ctx, &got); err != nil {
				b.Fatal(err)
			}
			pages++
			if len(got) < page {
				break
			}
			from = got[len(got)-1].CreatedAt
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(pages), "ms/page")
	b.ReportMetric(float64(shared.SQLFinds()-before)/float64(pages), "sql-answered")
	_ = db.Drop(ctx)
}
