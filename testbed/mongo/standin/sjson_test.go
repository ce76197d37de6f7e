package standin

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/courier-otel/courier/testbed/mongo/changelog"
	"github.com/courier-otel/courier/testbed/mongo/sjson"
)

// TestSJSONDecodesWhatFerretDBWrote: documents of every BSON type FerretDB
// stores, written through it, read back as stored (_jsonb) from
// PostgreSQL and decoded, are byte for byte what FerretDB itself returns.
func TestSJSONDecodesWhatFerretDBWrote(t *testing.T) {
	client := connectV2(t, shared.URI())
	ctx := testCtx(t, time.Minute)
	coll := newColl(t, client)
	docs := []bson.D{
		{{Key: "_id", Value: bson.NewObjectID()}, {Key: "createdAt", Value: time.UnixMilli(1784025000123)},
			{Key: "healthevent", Value: bson.D{{Key: "version", Value: int64(1)}, {Key: "isfatal", Value: true},
				{Key: "recommendedaction", Value: int32(15)}, {Key: "errorcode", Value: bson.A{"79"}},
				{Key: "entitiesimpacted", Value: bson.A{bson.D{{Key: "entitytype", Value: "GPU"}, {Key: "entityvalue", Value: "0"}}}},
				{Key: "generatedtimestamp", Value: bson.D{{Key: "seconds", Value: int64(1784025000)}, {Key: "nanos", Value: int32(123456789)}}},
				{Key: "quarantineoverrides", Value: nil}, {Key: "message", Value: "XID \"79\" \u00e9\u4e2d\n"}}}},
		{{Key: "_id", Value: "a string id"}, {Key: "double", Value: 1.5}, {Key: "whole", Value: 2.0}, {Key: "big", Value: float64(1 << 60)},
			{Key: "tiny", Value: math.SmallestNonzeroFloat64}, {Key: "neg", Value: -0.25},
			{Key: "int64", Value: int64(math.MaxInt64)}, {Key: "int32", Value: int32(math.MinInt32)},
			{Key: "bin", Value: bson.Binary{Subtype: 4, Data: []byte{1, 2, 3, 250}}}, {Key: "empty", Value: bson.D{}},
			{Key: "arr", Value: bson.A{int32(1), "two", 3.5, bson.D{{Key: "z", Value: false}}, nil}},
			{Key: "ts", Value: bson.Timestamp{T: 1784025000, I: 7}}, {Key: "re", Value: bson.Regex{Pattern: "^a.*b$", Options: "i"}},
			{Key: "zkey first", Value: 1}, {Key: "a", Value: int32(2)}}, // key order is not sorted
		{{Key: "_id", Value: int32(42)}},
	}
	for _, d := range docs {
		if _, err := coll.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, shared.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var table string
	if err := conn.QueryRow(ctx, `SELECT _jsonb->>'table' FROM `+pgx.Identifier{coll.Database().Name(), "_ferretdb_database_metadata"}.Sanitize()+
		` WHERE _jsonb->>'_id' = 'events'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	// The text column the changelog's setup adds is the same text.
	rows, err := conn.Query(ctx, `SELECT _jsonb::text, `+changelog.TextColumn+` FROM `+pgx.Identifier{coll.Database().Name(), table}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	var stored [][]byte
	for rows.Next() {
		var s, text string
		if err := rows.Scan(&s, &text); err != nil {
			t.Fatal(err)
		}
		if text != s {
			t.Errorf("%s is %s, want %s", changelog.TextColumn, text, s)
		}
		stored = append(stored, []byte(s))
	}
	if rows.Err() != nil || len(stored) != len(docs) {
		t.Fatalf("%d stored documents (%v), want %d", len(stored), rows.Err(), len(docs))
	}
	for _, s := range stored {
		got, err := sjson.ToBSON(s)
		if err != nil {
			t.Fatalf("decode %s: %v", s, err)
		}
		want, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: bson.Raw(got).Lookup("_id")}}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("stored %s\ndecoded %v\nFerretDB returns %v", s, bson.Raw(got), want)
		}
		// Appended after other bytes (a reply's), the same document.
		prefix := []byte("reply so far")
		appended, err := sjson.AppendBSON(bytes.Clone(prefix), s)
		if err != nil || !bytes.Equal(appended[:len(prefix)], prefix) || !bytes.Equal(appended[len(prefix):], want) {
			t.Errorf("AppendBSON of %s: %v, %x", s, err, appended)
		}
	}
}
