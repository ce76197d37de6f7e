package mongo

import (
	"bytes"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A resume token as MongoDB 7 writes it: _data is the hex of a KeyString
// starting with the event's cluster time (0x82, seconds, increment).
const sampleData = "8266A1B2C3000000022B042C0100296E5A1004A5093ABB38FE4B9EA67F01BB1A96D812463C6F7065726174696F6E54797065003C696E736572740046646F63756D656E744B65790046645F6964006466A1B2C3D4E5F60718293A4B000004"

func sampleToken(t *testing.T, data string) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(bson.D{{Key: "_data", Value: data}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// applySet applies an update's $set to doc the way the server does for
// top-level fields, and marshals the result.
func applySet(t *testing.T, doc bson.D, update bson.D) bson.Raw {
	t.Helper()
	set := update[0].Value.(bson.D)
	if update[0].Key != "$set" {
		t.Fatalf("update %v is not a $set", update)
	}
outer:
	for _, e := range set {
		for i := range doc {
			if doc[i].Key == e.Key {
				doc[i].Value = e.Value
				continue outer
			}
		}
		doc = append(doc, e)
	}
	b, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nvSet is NVSentinel's MarkProcessed update: {$set: {resumeToken: v}}.
func nvSet(v any) bson.D { return bson.D{{Key: "$set", Value: bson.D{{Key: "resumeToken", Value: v}}}} }

// upserted is the document NVSentinel's (and our) upsert on {clientName}
// creates: the filter's equality, then the $set.
func upserted(t *testing.T, update bson.D) bson.Raw {
	return applySet(t, bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: fieldClientName, Value: "event-exporter"}}, update)
}

func TestTokenDocumentRoundTrip(t *testing.T) {
	at := time.Date(2026, 7, 14, 10, 30, 0, 123_000_000, time.UTC)
	oid := bson.NewObjectID()
	for _, tok := range []Token{
		{ResumeToken: sampleToken(t, sampleData), CreatedAt: at},
		{ResumeToken: sampleToken(t, sampleData), CreatedAt: at, Backfill: BackfillPosition{
			Active: true, Until: at.Add(time.Hour), CreatedAt: at, Count: 3, Limit: 100,
			ID: bson.RawValue{Type: bson.TypeObjectID, Value: oid[:]},
		}},
		{ResumeToken: sampleToken(t, sampleData), CreatedAt: at, Backfill: BackfillPosition{
			Active: true, Until: at.Add(time.Hour), CreatedAt: at, After: true, Count: 7,
		}},
		{ResumeToken: sampleToken(t, sampleData), Backfill: BackfillPosition{Active: true, Until: at}},
	} {
		upd, err := tokenUpdate(tok)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := decodeTokenDoc(upserted(t, upd))
		if err != nil || !ok {
			t.Fatalf("decode: %v, %v", ok, err)
		}
		if !got.Fresh || !bytes.Equal(got.ResumeToken, tok.ResumeToken) || !got.CreatedAt.Equal(tok.CreatedAt) {
			t.Errorf("round trip of %+v = %+v", tok, got)
		}
		gb, wb := got.Backfill, tok.Backfill
		if gb.Active != wb.Active || !gb.Until.Equal(wb.Until) || !gb.CreatedAt.Equal(wb.CreatedAt) || gb.After != wb.After ||
			gb.Count != wb.Count || gb.Limit != wb.Limit || !gb.ID.Equal(wb.ID) {
			t.Errorf("backfill position %+v came back as %+v", wb, gb)
		}
	}
}

// TestNVSentinelTokenShape: the stored document holds the change stream
// token itself under resumeToken, as NVSentinel's MarkProcessed
// ($set {resumeToken: ChangeStream.ResumeToken()}, upsert on clientName).
func TestNVSentinelTokenShape(t *testing.T) {
	tok := sampleToken(t, sampleData)
	upd, err := tokenUpdate(Token{ResumeToken: tok, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	doc := upserted(t, upd)
	v := doc.Lookup("resumeToken")
	if v.Type != bson.TypeEmbeddedDocument || !bytes.Equal(v.Document(), tok) {
		t.Fatalf("resumeToken = %s, want the token document %s", v, tok)
	}
	if c, _ := doc.Lookup("clientName").StringValueOK(); c != "event-exporter" {
		t.Fatalf("clientName = %q", c)
	}

	// NVSentinel's readers: the watcher's TokenDoc (bson.Raw) and the
	// initializer's existence check (any). Both ignore the courier member.
	var watcher struct {
		ResumeToken bson.Raw `bson:"resumeToken"`
	}
	if err := bson.Unmarshal(doc, &watcher); err != nil {
		t.Fatalf("NVSentinel's TokenDoc cannot decode our document: %v", err)
	}
	if !bytes.Equal(watcher.ResumeToken, tok) {
		t.Errorf("NVSentinel would resume after %s, want %s", watcher.ResumeToken, tok)
	}
	var initializer struct {
		ResumeToken any `bson:"resumeToken"`
	}
	if err := bson.Unmarshal(doc, &initializer); err != nil || initializer.ResumeToken == nil {
		t.Errorf("NVSentinel's initializer sees no token: %v, %v", initializer.ResumeToken, err)
	}
}

// TestReadNVSentinelToken: a document NVSentinel wrote is read as its
// token, with nothing else known.
func TestReadNVSentinelToken(t *testing.T) {
	tok := sampleToken(t, sampleData)
	doc := upserted(t, nvSet(tok))
	got, ok, err := decodeTokenDoc(doc)
	if err != nil || !ok {
		t.Fatalf("decode: %v, %v", ok, err)
	}
	if got.Fresh || !bytes.Equal(got.ResumeToken, tok) || !got.CreatedAt.IsZero() || got.Backfill.Active {
		t.Errorf("got %+v", got)
	}

	// MarkProcessed with token bytes stores binary data.
	doc = upserted(t, nvSet([]byte(tok)))
	got, ok, err = decodeTokenDoc(doc)
	if err != nil || !ok || !bytes.Equal(got.ResumeToken, tok) {
		t.Errorf("binary token: %+v, %v, %v", got, ok, err)
	}

	for name, v := range map[string]any{"null": nil, "empty binary": []byte{}} {
		_, ok, err := decodeTokenDoc(upserted(t, nvSet(v)))
		if ok || err != nil {
			t.Errorf("%s: ok=%v err=%v, want no token", name, ok, err)
		}
	}
	if _, _, err := decodeTokenDoc(upserted(t, nvSet("82AB"))); err == nil {
		t.Error("a string resumeToken decoded without error")
	}
}

// TestNVSentinelOverwritesOurToken: after NVSentinel $sets a newer token
// over ours, our courier member describes an older token and is ignored.
func TestNVSentinelOverwritesOurToken(t *testing.T) {
	ours, theirs := sampleToken(t, sampleData), sampleToken(t, "8266A1B2D0000000012B")
	upd, err := tokenUpdate(Token{ResumeToken: ours, CreatedAt: time.Now(), Backfill: BackfillPosition{Active: true, Until: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	var doc bson.D
	if err := bson.Unmarshal(upserted(t, upd), &doc); err != nil {
		t.Fatal(err)
	}
	got, ok, err := decodeTokenDoc(applySet(t, doc, nvSet(theirs)))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got.Fresh || !bytes.Equal(got.ResumeToken, theirs) || got.Backfill.Active || !got.CreatedAt.IsZero() {
		t.Errorf("got %+v, want NVSentinel's token alone", got)
	}
}

func TestTokenUpdateRejectsEmpty(t *testing.T) {
	if _, err := tokenUpdate(Token{}); err == nil {
		t.Error("a token without a resume token was accepted")
	}
	if _, err := tokenUpdate(Token{ResumeToken: bson.Raw{1, 2, 3}}); err == nil {
		t.Error("a resume token that is not BSON was accepted")
	}
}

func TestClusterTime(t *testing.T) {
	ts, ok := clusterTime(sampleToken(t, sampleData))
	if !ok || ts.T != 0x66A1B2C3 || ts.I != 2 {
		t.Errorf("cluster time = %v, %v; want {0x66A1B2C3 2}", ts, ok)
	}
	if got := tokenTime(sampleToken(t, sampleData)); !got.Equal(time.Unix(0x66A1B2C3, 0)) {
		t.Errorf("token time = %v", got)
	}
	for _, data := range []string{"", "82", "0166A1B2C3000000022B", "zz66A1B2C3000000022B"} {
		if _, ok := clusterTime(sampleToken(t, data)); ok {
			t.Errorf("%q: cluster time decoded", data)
		}
	}
	if !tokenTime(nil).IsZero() {
		t.Error("nil token has a time")
	}
}
