package mongo

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Token is a resume position. It is stored in NVSentinel's token
// collection in NVSentinel's shape, so that either program continues from
// the other's token:
//
//	{clientName: "event-exporter", resumeToken: {_data: "82…"},
//	 courier: {resumeToken: {_data: "82…"}, lastCreatedAt: ISODate, backfill: {…}}}
//
// resumeToken is the change stream's resume token document exactly as the
// driver hands it out (and as NVSentinel's MarkProcessed stores
// ChangeStream.ResumeToken()); NVSentinel reads that member only and
// updates it with $set, so courier survives it, but then describes an
// older token. courier.resumeToken says which token courier belongs to:
// when it differs from resumeToken, courier is stale and ignored.
type Token struct {
	// ResumeToken is the change stream resume token after the event:
	// resuming from it returns the events after this one. During a
	// backfill it is the handover token: where the live stream starts once
	// the backfill is done.
	ResumeToken bson.Raw
	// CreatedAt is the createdAt of the event (its cluster time when it has
	// none). A token the server no longer accepts is recovered from by a
	// backfill from CreatedAt − RecoveryMargin.
	CreatedAt time.Time
	// Backfill is set while a backfill runs.
	Backfill BackfillPosition
}

// BackfillPosition is how far a backfill has got. The backfill reads the
// documents with createdAt ≤ Until in (createdAt, _id) order; the position
// is just after (CreatedAt, ID), or after every document of CreatedAt when
// After is set, or before every document of CreatedAt when ID is unset
// and After is not.
type BackfillPosition struct {
	Active    bool
	Until     time.Time
	CreatedAt time.Time
	ID        bson.RawValue
	After     bool
	Count     int64 // documents delivered so far
	Limit     int64 // at most this many in all; 0: no limit
}

// Field names in the token document.
const (
	fieldClientName  = "clientName"
	fieldResumeToken = "resumeToken"
	fieldCourier     = "courier"
)

// tokenUpdate is the $set that stores t, upserted on {clientName: …} as
// NVSentinel's MarkProcessed does.
func tokenUpdate(t Token) (bson.D, error) {
	if len(t.ResumeToken) == 0 {
		return nil, errors.New("token has no resume token")
	}
	if err := t.ResumeToken.Validate(); err != nil {
		return nil, fmt.Errorf("resume token is not a BSON document: %w", err)
	}
	courier := bson.D{
		{Key: "resumeToken", Value: t.ResumeToken},
		{Key: "lastCreatedAt", Value: t.CreatedAt},
	}
	if b := t.Backfill; b.Active {
		bf := bson.D{
			{Key: "until", Value: b.Until},
			{Key: "createdAt", Value: b.CreatedAt},
			{Key: "after", Value: b.After},
			{Key: "count", Value: b.Count},
			{Key: "limit", Value: b.Limit},
		}
		if b.ID.Type != 0 {
			bf = append(bf, bson.E{Key: "id", Value: b.ID})
		}
		courier = append(courier, bson.E{Key: "backfill", Value: bf})
	}
	return bson.D{{Key: "$set", Value: bson.D{
		{Key: fieldResumeToken, Value: t.ResumeToken},
		{Key: fieldCourier, Value: courier},
	}}}, nil
}

// storedToken is a decoded token document.
type storedToken struct {
	Token
	// Fresh says whether Token's CreatedAt and Backfill were written with
	// its ResumeToken (by Courier); when false only ResumeToken is known.
	Fresh bool
}

// decodeTokenDoc reads a token document written by NVSentinel or Courier.
// ok is false when it holds no resume token.
func decodeTokenDoc(doc bson.Raw) (st storedToken, ok bool, err error) {
	rt, err := resumeTokenValue(doc.Lookup(fieldResumeToken))
	if err != nil || rt == nil {
		return storedToken{}, false, err
	}
	st.ResumeToken = rt
	c, isDoc := doc.Lookup(fieldCourier).DocumentOK()
	if !isDoc {
		return st, true, nil
	}
	own, _ := c.Lookup("resumeToken").DocumentOK()
	if !bytes.Equal(own, rt) {
		return st, true, nil // NVSentinel has moved the token since
	}
	st.Fresh = true
	if t, ok := c.Lookup("lastCreatedAt").TimeOK(); ok {
		st.CreatedAt = t.UTC()
	}
	bf, isDoc := c.Lookup("backfill").DocumentOK()
	if !isDoc {
		return st, true, nil
	}
	p := BackfillPosition{Active: true}
	var okU, okC bool
	p.Until, okU = bf.Lookup("until").TimeOK()
	p.CreatedAt, okC = bf.Lookup("createdAt").TimeOK()
	if !okU || !okC {
		return storedToken{}, false, errors.New("courier.backfill: until and createdAt must be dates")
	}
	p.Until, p.CreatedAt = p.Until.UTC(), p.CreatedAt.UTC()
	if v, err := bf.LookupErr("id"); err == nil {
		p.ID = bson.RawValue{Type: v.Type, Value: bytes.Clone(v.Value)}
	}
	p.After, _ = bf.Lookup("after").BooleanOK()
	p.Count, _ = bf.Lookup("count").AsInt64OK()
	p.Limit, _ = bf.Lookup("limit").AsInt64OK()
	st.Backfill = p
	return st, true, nil
}

// resumeTokenValue returns the resume token document of a token document's
// resumeToken member: a document, as MarkProcessed stores
// ChangeStream.ResumeToken(); or binary data holding one, as it stores the
// bytes a caller passes. Missing or null means no token.
func resumeTokenValue(v bson.RawValue) (bson.Raw, error) {
	switch v.Type {
	case 0, bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeEmbeddedDocument:
		return bytes.Clone(v.Document()), nil
	case bson.TypeBinary:
		_, data := v.Binary()
		if len(data) == 0 {
			return nil, nil
		}
		if bson.Raw(data).Validate() == nil {
			return bytes.Clone(data), nil
		}
	}
	return nil, fmt.Errorf("resumeToken is a BSON %s, not a change stream resume token document", v.Type)
}

// clusterTime reads the cluster time a resume token starts with. Its _data
// is the hex of a KeyString whose first value is a BSON timestamp: type
// byte 130, then seconds and increment, 4 bytes each, big-endian.
func clusterTime(tok bson.Raw) (bson.Timestamp, bool) {
	s, ok := tok.Lookup("_data").StringValueOK()
	if !ok || len(s) < 18 {
		return bson.Timestamp{}, false
	}
	b, err := hex.DecodeString(s[:18])
	if err != nil || b[0] != 130 {
		return bson.Timestamp{}, false
	}
	return bson.Timestamp{T: binary.BigEndian.Uint32(b[1:5]), I: binary.BigEndian.Uint32(b[5:9])}, true
}

func timestampTime(ts bson.Timestamp) time.Time { return time.Unix(int64(ts.T), 0).UTC() }

// tokens reads and writes the token documents of one client.
type tokens struct {
	coll   *mongo.Collection // majority read and write concern, primary
	client string
}

func (t tokens) load(ctx context.Context) (storedToken, bool, error) {
	raw, err := t.coll.FindOne(ctx, bson.D{{Key: fieldClientName, Value: t.client}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return storedToken{}, false, nil
	}
	if err != nil {
		return storedToken{}, false, fmt.Errorf("load resume token of %q: %w", t.client, err)
	}
	st, ok, err := decodeTokenDoc(raw)
	if err != nil {
		return storedToken{}, false, fmt.Errorf("resume token of %q in %s: %w (delete the document to start over)",
			t.client, t.coll.Name(), err)
	}
	return st, ok, nil
}

func (t tokens) save(ctx context.Context, tok Token) error {
	upd, err := tokenUpdate(tok)
	if err != nil {
		return fmt.Errorf("save resume token of %q: %w", t.client, err)
	}
	_, err = t.coll.UpdateOne(ctx, bson.D{{Key: fieldClientName, Value: t.client}}, upd, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save resume token of %q: %w", t.client, err)
	}
	return nil
}

// tokenStore is where the token documents of a client live.
type tokenStore interface {
	load(ctx context.Context) (storedToken, bool, error)
	save(ctx context.Context, tok Token) error
}

// externalTokens keeps the token document in a TokenStore.
type externalTokens struct{ store TokenStore }

func (t externalTokens) load(ctx context.Context) (storedToken, bool, error) {
	raw, err := t.store.Load(ctx)
	if err != nil || raw == nil {
		return storedToken{}, false, err
	}
	st, ok, err := decodeTokenDoc(raw)
	if err != nil {
		return storedToken{}, false, fmt.Errorf("resume token in storage: %w", err)
	}
	return st, ok, nil
}

func (t externalTokens) save(ctx context.Context, tok Token) error {
	upd, err := tokenUpdate(tok)
	if err != nil {
		return fmt.Errorf("save resume token: %w", err)
	}
	// The document is what $set would leave: the fields of the update.
	doc, err := bson.Marshal(upd[0].Value)
	if err != nil {
		return fmt.Errorf("encode resume token: %w", err)
	}
	return t.store.Save(ctx, doc)
}
