package standin

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// findCase is one find: the receiver's backfill queries (history.go of
// receiver/datastorereceiver/internal/mongo) and their edge cases.
type findCase struct {
	name    string
	filter  bson.D
	opts    *options.FindOptionsBuilder
	byValue bool // sorted on createdAt: ties come in any order
	sql     bool // the proxy answers it by SQL
}

// TestFindBySQL: the finds the proxy answers by SQL give what FerretDB
// gives for the same data (ties on the sort key, _ids of two types, dates
// beside other types and missing fields, limits, skips, projections), and
// the others, and a collection where createdAt is an array, are left to
// FerretDB. The receiver's counts (CountDocuments) are answered by SQL
// too and equal FerretDB's.
func TestFindBySQL(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	proxy := connectV2(t, shared.URI())
	ferret := connectV2(t, shared.BackendURI())
	dbName := randomName("sqlfind")
	coll := proxy.Database(dbName).Collection("HealthEvents")
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }
	var docs []any
	for i := range 60 {
		// Groups of 1 to 4 documents share a createdAt.
		docs = append(docs, bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "createdAt", Value: at(i / 3 * 3 / (1 + i%2))},
			{Key: "healthevent", Value: bson.D{{Key: "nodename", Value: fmt.Sprint("node-", i)}}}, {Key: "n", Value: int32(i)}})
	}
	// String _ids in one group with ObjectIds; a group of strings only.
	for _, id := range []string{"b", "a", "zz", "0"} {
		docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "createdAt", Value: at(9)}, {Key: "n", Value: int32(100)}})
		docs = append(docs, bson.D{{Key: "_id", Value: "s" + id}, {Key: "createdAt", Value: at(200)}})
	}
	// Not dates: never matched by a date filter nor counted by $type.
	docs = append(docs,
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "createdAt", Value: at(10).UnixMilli()}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "createdAt", Value: "2026-12-07"}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "other", Value: at(10)}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "createdAt", Value: nil}})
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	gt := func(op string, v any) bson.D { return bson.D{{Key: op, Value: v}} }
	rng := func(lo string, a time.Time, hi string, b time.Time) bson.D {
		return bson.D{{Key: lo, Value: a}, {Key: hi, Value: b}}
	}
	firstOID := docs[6].(bson.D)[0].Value
	cases := []findCase{
		{"span exclusive", bson.D{{Key: "createdAt", Value: rng("$gt", at(3), "$lte", at(40))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(10).SetBatchSize(10), true, true},
		{"span inclusive to the end", bson.D{{Key: "createdAt", Value: rng("$gte", at(0), "$lte", at(1000))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(1000).SetBatchSize(1000), true, true},
		{"span, limit cuts a tie", bson.D{{Key: "createdAt", Value: rng("$gte", at(0), "$lte", at(1000))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(2).SetBatchSize(2), true, true},
		{"group by _id", bson.D{{Key: "createdAt", Value: at(9)}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(100).SetBatchSize(100), false, true},
		{"group after a string _id", bson.D{{Key: "createdAt", Value: at(9)}, {Key: "_id", Value: gt("$gt", "a")}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(2).SetBatchSize(2), false, true},
		{"group after an ObjectId", bson.D{{Key: "createdAt", Value: at(9)}, {Key: "_id", Value: gt("$gt", bson.NilObjectID)}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(10).SetBatchSize(10), false, true},
		{"group after a later ObjectId", bson.D{{Key: "createdAt", Value: at(6)}, {Key: "_id", Value: gt("$gt", firstOID)}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(10).SetBatchSize(10), false, true},
		{"group of strings", bson.D{{Key: "createdAt", Value: at(200)}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(3).SetBatchSize(3), false, true},
		{"groupNth", bson.D{{Key: "createdAt", Value: at(9)}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetSkip(2).SetLimit(1).SetProjection(bson.D{{Key: "_id", Value: 1}}), false, true},
		{"newest", bson.D{{Key: "createdAt", Value: gt("$type", "date")}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(1).SetProjection(bson.D{{Key: "createdAt", Value: 1}}), true, true},
		{"newest skipping", bson.D{{Key: "createdAt", Value: rng("$gte", at(3), "$lte", at(45))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetSkip(7).SetLimit(1).SetProjection(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 0}}), true, true},
		{"nothing in range", bson.D{{Key: "createdAt", Value: rng("$gt", at(5000), "$lte", at(6000))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(10), false, true},
		// Left to FerretDB: no limit (a cursor), a batch smaller than the
		// limit, another operator.
		{"no limit", bson.D{{Key: "createdAt", Value: gt("$gte", at(0))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}), true, false},
		{"small batches", bson.D{{Key: "createdAt", Value: gt("$gte", at(0))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(20).SetBatchSize(5), true, false},
		{"$ne", bson.D{{Key: "createdAt", Value: gt("$ne", at(0))}},
			options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(20), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := shared.SQLFinds()
			got := findAll(t, coll, c)
			if n := shared.SQLFinds() - before; (n > 0) != c.sql {
				t.Fatalf("answered by SQL: %v, want %v", n > 0, c.sql)
			}
			want := findAll(t, ferret.Database(dbName).Collection("HealthEvents"), c)
			compareAnswers(t, got, want, c.byValue)
		})
	}

	// FindOne, as the receiver's newest and groupNth send it (limit 1,
	// one batch).
	for _, c := range []struct {
		filter bson.D
		opts   *options.FindOneOptionsBuilder
		exact  bool // else only createdAt is compared (ties)
	}{
		{bson.D{{Key: "createdAt", Value: rng("$gte", at(3), "$lte", at(45))}},
			options.FindOne().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetSkip(4).SetProjection(bson.D{{Key: "createdAt", Value: 1}}), false},
		{bson.D{{Key: "createdAt", Value: at(9)}},
			options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetSkip(1).SetProjection(bson.D{{Key: "_id", Value: 1}}), true},
	} {
		before := shared.SQLFinds()
		got, err := coll.FindOne(ctx, c.filter, c.opts).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if shared.SQLFinds() == before {
			t.Fatalf("FindOne(%v) was not answered by SQL", c.filter)
		}
		want, err := ferret.Database(dbName).Collection("HealthEvents").FindOne(ctx, c.filter, c.opts).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if c.exact && !bytes.Equal(got, want) || !got.Lookup("createdAt").Equal(want.Lookup("createdAt")) {
			t.Fatalf("FindOne(%v): %v, FerretDB gives %v", c.filter, got, want)
		}
	}

	// The receiver's countAfter: CountDocuments on a createdAt range.
	for _, f := range []bson.D{
		{{Key: "createdAt", Value: rng("$gt", at(3), "$lte", at(40))}},
		{{Key: "createdAt", Value: rng("$gt", at(5000), "$lte", at(6000))}},
		{{Key: "createdAt", Value: at(9)}},
	} {
		before := shared.SQLFinds()
		got, err := coll.CountDocuments(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if shared.SQLFinds() == before {
			t.Fatalf("CountDocuments(%v) was not answered by SQL", f)
		}
		want, err := ferret.Database(dbName).Collection("HealthEvents").CountDocuments(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("CountDocuments(%v) = %d, FerretDB counts %d", f, got, want)
		}
	}

	// createdAt an array in one document: arrays match element-wise, so
	// FerretDB answers.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "arr"}, {Key: "createdAt", Value: bson.A{at(1), at(2)}}}); err != nil {
		t.Fatal(err)
	}
	before := shared.SQLFinds()
	findAll(t, coll, cases[0])
	if shared.SQLFinds() != before {
		t.Fatal("a collection with an array createdAt was answered by SQL")
	}
}

func findAll(t *testing.T, coll *mongo.Collection, c findCase) []bson.Raw {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	cur, err := coll.Find(ctx, c.filter, c.opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []bson.Raw
	for cur.Next(ctx) {
		out = append(out, bson.Raw(bytes.Clone(cur.Current)))
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareAnswers wants the same documents, byte for byte, in the same
// order; when sorted by value alone, ties may come in another order, but
// the sort keys must come in the same order (and the last group, which a
// limit may cut at any member, is only counted).
func compareAnswers(t *testing.T, got, want []bson.Raw, byValue bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d documents, FerretDB gives %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	if byValue {
		for i := range got {
			if !got[i].Lookup("createdAt").Equal(want[i].Lookup("createdAt")) {
				t.Fatalf("document %d: createdAt %v, FerretDB's %v", i, got[i].Lookup("createdAt"), want[i].Lookup("createdAt"))
			}
		}
		// The last group may be cut by the limit at any member.
		end := len(got)
		for end > 0 && got[end-1].Lookup("createdAt").Equal(got[len(got)-1].Lookup("createdAt")) {
			end--
		}
		got, want = slices.Clone(got[:end]), slices.Clone(want[:end])
		cmp := func(a, b bson.Raw) int { return bytes.Compare(a, b) }
		slices.SortFunc(got, cmp)
		slices.SortFunc(want, cmp)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("document %d: %v, FerretDB gives %v", i, got[i], want[i])
		}
	}
}

// TestIndexBuiltWithClients: a client's createIndexes on one field (as
// NVSentinel's TTL index on createdAt) builds the index the finds by SQL
// use then, before its answer, as MongoDB builds an index then; one of a
// compound key builds none. The finds are answered by SQL as before.
func TestIndexBuiltWithClients(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	client := connectV2(t, shared.URI())
	db := client.Database(randomName("idx"))
	coll := db.Collection("HealthEvents")
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "createdAt", Value: at.Add(time.Duration(i) * time.Second)}, {Key: "n", Value: int32(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := coll.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "createdAt", Value: 1}}},
		{Keys: bson.D{{Key: "n", Value: 1}, {Key: "createdAt", Value: -1}}},
	}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, shared.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	indexes := func() []string {
		rows, err := conn.Query(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE '%courier%' ORDER BY 1`, db.Name())
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	got := indexes()
	if len(got) != 2 || !strings.HasSuffix(got[0], "_courier_createdAt") || !strings.HasSuffix(got[1], "_courier_createdAt_arr") {
		t.Fatalf("indexes after createIndexes: %v, want the createdAt index and its array index only", got)
	}
	before := shared.SQLFinds()
	cur, err := coll.Find(ctx, bson.D{{Key: "createdAt", Value: bson.D{{Key: "$gt", Value: at}}}},
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(10))
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || shared.SQLFinds()-before != 1 {
		t.Errorf("%d documents, %d finds by SQL; want 2, 1", len(docs), shared.SQLFinds()-before)
	}
	if again := indexes(); !slices.Equal(again, got) {
		t.Errorf("indexes after the find: %v, want %v", again, got)
	}
}
