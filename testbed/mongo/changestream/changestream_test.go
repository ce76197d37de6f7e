package changestream

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, p := range []Position{{}, {Seq: 1, T: 1784025000, I: 1}, {Seq: 1 << 40, T: ^uint32(0), I: 7}} {
		got, err := ParseToken(Token(p))
		if err != nil || got != p {
			t.Fatalf("%+v: got %+v, %v", p, got, err)
		}
	}
	// A real MongoDB token is not one of ours.
	real := bsoncore.NewDocumentBuilder().AppendString("_data", "8266A1B2D0000000012B022C0100296E5A1004ABCDEF0123456789ABCDEF012345678946645F696400646690AB12CD34EF5678901234560004").Build()
	if _, err := ParseToken(real); err == nil {
		t.Fatal("a real MongoDB token parsed")
	}
}

func doc(t *testing.T, v any) bsoncore.Document {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMatch: MongoDB's query semantics on the change events' fields.
func TestMatch(t *testing.T) {
	ev := doc(t, bson.D{
		{Key: "operationType", Value: "insert"},
		{Key: "fullDocument", Value: bson.D{
			{Key: "n", Value: int32(3)}, {Key: "f", Value: 2.5}, {Key: "big", Value: int64(1) << 40},
			{Key: "tags", Value: bson.A{"a", "b"}}, {Key: "nil", Value: nil},
			{Key: "list", Value: bson.A{bson.D{{Key: "k", Value: "x"}}, bson.D{{Key: "k", Value: "y"}}}},
		}},
	})
	for _, c := range []struct {
		q    bson.D
		want bool
	}{
		{bson.D{{Key: "operationType", Value: "insert"}}, true},
		{bson.D{{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"update", "insert"}}}}}, true},
		{bson.D{{Key: "operationType", Value: bson.D{{Key: "$nin", Value: bson.A{"insert"}}}}}, false},
		{bson.D{{Key: "fullDocument.n", Value: int64(3)}}, true}, // numbers compare across types
		{bson.D{{Key: "fullDocument.n", Value: 3.0}}, true},
		{bson.D{{Key: "fullDocument.f", Value: bson.D{{Key: "$gt", Value: int32(2)}, {Key: "$lt", Value: int32(3)}}}}, true},
		{bson.D{{Key: "fullDocument.big", Value: bson.D{{Key: "$gte", Value: int64(1) << 40}}}}, true},
		{bson.D{{Key: "fullDocument.tags", Value: "b"}}, true}, // an array holding the value
		{bson.D{{Key: "fullDocument.list.k", Value: "y"}}, true},
		{bson.D{{Key: "fullDocument.missing", Value: nil}}, true}, // null matches missing
		{bson.D{{Key: "fullDocument.nil", Value: nil}}, true},
		{bson.D{{Key: "fullDocument.missing", Value: bson.D{{Key: "$exists", Value: false}}}}, true},
		{bson.D{{Key: "fullDocument.nil", Value: bson.D{{Key: "$exists", Value: true}}}}, true},
		{bson.D{{Key: "fullDocument.n", Value: bson.D{{Key: "$ne", Value: int32(3)}}}}, false},
		{bson.D{{Key: "fullDocument.n", Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$gt", Value: int32(5)}}}}}}, true},
		{bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "fullDocument.n", Value: int32(9)}}, bson.D{{Key: "fullDocument.f", Value: 2.5}}}}}, true},
		{bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "fullDocument.n", Value: int32(3)}}, bson.D{{Key: "fullDocument.f", Value: 9}}}}}, false},
		{bson.D{{Key: "$nor", Value: bson.A{bson.D{{Key: "fullDocument.n", Value: int32(9)}}}}}, true},
		{bson.D{{Key: "fullDocument.n", Value: "3"}}, false}, // no cross-type equality
	} {
		m, err := compileQuery(doc(t, c.q))
		if err != nil {
			t.Fatalf("%v: %v", c.q, err)
		}
		if got := m(ev); got != c.want {
			t.Errorf("%v: %v, want %v", c.q, got, c.want)
		}
	}
	for _, bad := range []bson.D{
		{{Key: "$expr", Value: bson.D{}}},
		{{Key: "x", Value: bson.D{{Key: "$regex", Value: "a"}}}},
		{{Key: "$or", Value: bson.A{}}},
	} {
		if _, err := compileQuery(doc(t, bad)); err == nil {
			t.Errorf("%v compiled", bad)
		}
	}
}

// TestProject: inclusion keeps _id and the named fields, exclusion drops
// the named ones.
func TestProject(t *testing.T) {
	ev := doc(t, bson.D{{Key: "_id", Value: 1}, {Key: "a", Value: 2}, {Key: "b", Value: 3}, {Key: "c", Value: 4}})
	keys := func(d bsoncore.Document) []string {
		els, _ := d.Elements()
		var out []string
		for _, e := range els {
			out = append(out, e.Key())
		}
		return out
	}
	for spec, want := range map[string][]string{
		`{"a": 1, "c": 1}`: {"_id", "a", "c"},
		`{"a": 0}`:         {"_id", "b", "c"},
	} {
		var d bson.D
		if err := bson.UnmarshalExtJSON([]byte(spec), false, &d); err != nil {
			t.Fatal(err)
		}
		p, err := CompilePipeline([]bsoncore.Document{doc(t, bson.D{{Key: "$project", Value: d}})})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := p[0](ev)
		if got := keys(out); len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%s: %v, want %v", spec, got, want)
		}
	}
}
