package standin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/courier-otel/courier/testbed/mongo/changestream"
	"github.com/courier-otel/courier/testbed/mongo/wire"
)

// What hello announces: MongoDB 7.0's wire version, so that drivers use
// every modern feature (change streams, postBatchResumeToken, retryable
// writes, sessions).
const (
	maxWireVersion = 21
	sessionMinutes = 30
)

// electionID is fixed: the one member never loses an election.
var electionID = bson.ObjectID{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}

func (s *Server) now() (uint32, uint32) { return uint32(time.Now().Unix()), 1 }

// withClusterTime adds $clusterTime and operationTime, as a replica set
// member does, unless the reply has them.
func (s *Server) withClusterTime(doc bsoncore.Document) bsoncore.Document {
	if _, err := doc.LookupErr("$clusterTime"); err == nil {
		return doc
	}
	t, i := s.now()
	sig := bsoncore.NewDocumentBuilder().AppendBinary("hash", 0, make([]byte, 20)).AppendInt64("keyId", 0).Build()
	ct := bsoncore.NewDocumentBuilder().AppendTimestamp("clusterTime", t, i).AppendDocument("signature", sig).Build()
	elems := doc[4 : len(doc)-1]
	out := make([]byte, 0, len(doc)+len(ct)+64)
	idx, out := bsoncore.ReserveLength(out)
	out = append(out, elems...)
	out = bsoncore.AppendDocumentElement(out, "$clusterTime", ct)
	out = bsoncore.AppendTimestampElement(out, "operationTime", t, i)
	out = append(out, 0)
	return bsoncore.UpdateLength(out, idx, int32(len(out)-int(idx)))
}

func (s *Server) ok(b *bsoncore.DocumentBuilder) bsoncore.Document {
	if b == nil {
		b = bsoncore.NewDocumentBuilder()
	}
	return b.AppendDouble("ok", 1).Build()
}

// errorDoc is a command error reply.
func errorDoc(err error) bsoncore.Document {
	var se *changestream.Error
	if !errors.As(err, &se) {
		se = &changestream.Error{Code: 1, Name: "InternalError", Msg: err.Error()}
	}
	b := bsoncore.NewDocumentBuilder().
		AppendDouble("ok", 0).
		AppendString("errmsg", se.Msg).
		AppendInt32("code", se.Code).
		AppendString("codeName", se.Name)
	if len(se.Labels) > 0 {
		a := bsoncore.NewArrayBuilder()
		for _, l := range se.Labels {
			a.AppendString(l)
		}
		b.AppendArray("errorLabels", a.Build())
	}
	return b.Build()
}

func (c *conn) hello(body bsoncore.Document) bsoncore.Document {
	s := c.s
	t, i := s.now()
	hosts := bsoncore.NewArrayBuilder().AppendString(s.me).Build()
	lastWrite := bsoncore.NewDocumentBuilder().
		AppendDocument("opTime", bsoncore.NewDocumentBuilder().AppendTimestamp("ts", t, i).AppendInt64("t", 1).Build()).
		AppendDateTime("lastWriteDate", time.Now().UnixMilli()).
		AppendDocument("majorityOpTime", bsoncore.NewDocumentBuilder().AppendTimestamp("ts", t, i).AppendInt64("t", 1).Build()).
		AppendDateTime("majorityWriteDate", time.Now().UnixMilli()).
		Build()
	b := bsoncore.NewDocumentBuilder()
	if v, ok := body.Lookup("helloOk").BooleanOK(); ok && v {
		b.AppendBoolean("helloOk", true)
	}
	b.AppendBoolean("ismaster", true).
		AppendBoolean("isWritablePrimary", true).
		AppendBoolean("secondary", false).
		AppendString("setName", s.opts.ReplSet).
		AppendInt32("setVersion", 1).
		AppendArray("hosts", hosts).
		AppendString("primary", s.me).
		AppendString("me", s.me).
		AppendObjectID("electionId", electionID).
		AppendDocument("lastWrite", lastWrite).
		AppendInt32("maxBsonObjectSize", 16*1024*1024).
		AppendInt32("maxMessageSizeBytes", wire.MaxMessageSize).
		AppendInt32("maxWriteBatchSize", 100_000).
		AppendDateTime("localTime", time.Now().UnixMilli()).
		AppendInt32("logicalSessionTimeoutMinutes", sessionMinutes).
		AppendInt32("connectionId", c.id).
		AppendInt32("minWireVersion", 0).
		AppendInt32("maxWireVersion", maxWireVersion).
		AppendBoolean("readOnly", false)
	if spec, ok := body.Lookup("speculativeAuthenticate").DocumentOK(); ok {
		if user, err := c.x509(spec); err == nil {
			b.AppendDocument("speculativeAuthenticate", bsoncore.NewDocumentBuilder().
				AppendString("dbname", "$external").AppendString("user", user).Build())
		}
	}
	return s.ok(b)
}

// authenticate runs MONGODB-X509: the user is the client certificate's
// subject, and a user the client names must be that subject.
func (c *conn) authenticate(body bsoncore.Document) bsoncore.Document {
	user, err := c.x509(body)
	if err != nil {
		return errorDoc(err)
	}
	return c.s.ok(bsoncore.NewDocumentBuilder().AppendString("dbname", "$external").AppendString("user", user))
}

func (c *conn) x509(body bsoncore.Document) (string, error) {
	fail := func(msg string) (string, error) {
		return "", &changestream.Error{Code: 18, Name: "AuthenticationFailed", Msg: msg}
	}
	if mech, _ := body.Lookup("mechanism").StringValueOK(); mech != "MONGODB-X509" {
		return fail("courier-mongo supports MONGODB-X509 only, not " + mech)
	}
	if db, ok := body.Lookup("db").StringValueOK(); ok && db != "$external" {
		return fail("MONGODB-X509 users are in $external, not " + db)
	}
	if c.subject == "" {
		return fail("No verified subject name available from client")
	}
	if user, ok := body.Lookup("user").StringValueOK(); ok && user != "" && !sameSubject(user, c.subject) {
		return fail("There is no x.509 client certificate matching the user.")
	}
	c.authed = true
	return c.subject, nil
}

// sameSubject compares RFC 2253 names, ignoring spaces after separators.
func sameSubject(a, b string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, ", ", ","), "+ ", "+") }
	return norm(a) == norm(b)
}

func (s *Server) replSetStatus() bsoncore.Document {
	t, i := s.now()
	member := bsoncore.NewDocumentBuilder().
		AppendInt32("_id", 0).AppendString("name", s.me).AppendDouble("health", 1).
		AppendInt32("state", 1).AppendString("stateStr", "PRIMARY").
		AppendDocument("optime", bsoncore.NewDocumentBuilder().AppendTimestamp("ts", t, i).AppendInt64("t", 1).Build()).
		AppendBoolean("self", true).Build()
	return s.ok(bsoncore.NewDocumentBuilder().
		AppendString("set", s.opts.ReplSet).
		AppendDateTime("date", time.Now().UnixMilli()).
		AppendInt32("myState", 1).
		AppendArray("members", bsoncore.NewArrayBuilder().AppendDocument(member).Build()))
}

// openStream answers an aggregate with a leading $changeStream.
func (s *Server) openStream(ctx context.Context, body, stage bsoncore.Document) bsoncore.Document {
	// The cursor keeps its stages: they must not alias the read buffer.
	body = bytes.Clone(body)
	stage, _ = changeStreamStage(body)
	db, _ := body.Lookup("$db").StringValueOK()
	r := changestream.OpenRequest{DB: db, Stage: stage, BatchSize: -1}
	switch v := body.Lookup("aggregate"); v.Type {
	case bsoncore.TypeString:
		r.Coll = v.StringValue()
	default:
		if n, ok := v.AsInt64OK(); !ok || n != 1 {
			return errorDoc(&changestream.Error{Code: changestream.CodeFailedToParse, Name: "FailedToParse", Msg: "aggregate must name a collection or be 1"})
		}
	}
	if f := s.faults.take(ChangeStreamCommand); f != FaultNone {
		return errorDoc(faultError(f))
	}
	pipe, _ := body.Lookup("pipeline").ArrayOK()
	vals, _ := pipe.Values()
	for _, v := range vals[1:] {
		d, ok := v.DocumentOK()
		if !ok {
			return errorDoc(&changestream.Error{Code: 14, Name: "TypeMismatch", Msg: "each pipeline stage must be an object"})
		}
		r.Rest = append(r.Rest, d)
	}
	if n, ok := body.Lookup("cursor", "batchSize").AsInt64OK(); ok {
		r.BatchSize = int(n)
	}
	cur, err := s.streams.Open(ctx, r)
	if err != nil {
		return errorDoc(err)
	}
	// The first batch does not wait; with batchSize 0 it is empty.
	if r.BatchSize == 0 {
		return s.cursorReply(cur, "firstBatch", nil, cur.Position())
	}
	evs, pos, err := s.streams.Batch(ctx, cur, max(r.BatchSize, 0), 0)
	if err != nil {
		s.streams.Kill([]int64{cur.ID})
		return errorDoc(err)
	}
	return s.cursorReply(cur, "firstBatch", evs, pos)
}

func (s *Server) cursorReply(cur *changestream.Cursor, batchName string, evs []bsoncore.Document, pos changestream.Position) bsoncore.Document {
	// One buffer, the cluster time included: a batch may hold megabytes,
	// and builders would copy it at each level.
	size := 512
	for _, e := range evs {
		size += len(e) + 8
	}
	doc := make([]byte, 0, size)
	idx, doc := bsoncore.AppendDocumentStart(doc)
	cidx, doc := bsoncore.AppendDocumentElementStart(doc, "cursor")
	aidx, doc := bsoncore.AppendArrayElementStart(doc, batchName)
	var key []byte
	for i, e := range evs {
		key = strconv.AppendInt(key[:0], int64(i), 10)
		doc = bsoncore.AppendDocumentElement(doc, string(key), e)
	}
	doc, _ = bsoncore.AppendArrayEnd(doc, aidx)
	doc = bsoncore.AppendDocumentElement(doc, "postBatchResumeToken", changestream.Token(pos))
	doc = bsoncore.AppendInt64Element(doc, "id", cur.ID)
	doc = bsoncore.AppendStringElement(doc, "ns", cur.NS())
	doc, _ = bsoncore.AppendDocumentEnd(doc, cidx)
	doc = bsoncore.AppendDoubleElement(doc, "ok", 1)
	t, i := s.now()
	doc = bsoncore.AppendDocumentElement(doc, "$clusterTime", bsoncore.NewDocumentBuilder().AppendTimestamp("clusterTime", t, i).
		AppendDocument("signature", bsoncore.NewDocumentBuilder().AppendBinary("hash", 0, make([]byte, 20)).AppendInt64("keyId", 0).Build()).Build())
	doc = bsoncore.AppendTimestampElement(doc, "operationTime", t, i)
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

// getMore answers a getMore of a change stream cursor; an error return
// drops the connection (the fault).
func (s *Server) getMore(ctx context.Context, id int64, body bsoncore.Document) (bsoncore.Document, error) {
	cur, ok := s.streams.Get(id)
	if !ok {
		return errorDoc(&changestream.Error{Code: changestream.CodeCursorNotFound, Name: "CursorNotFound",
			Msg: fmt.Sprintf("cursor id %d not found", id), Labels: []string{"ResumableChangeStreamError"}}), nil
	}
	wait := time.Second
	if ms, ok := body.Lookup("maxTimeMS").AsInt64OK(); ok && ms > 0 {
		wait = time.Duration(ms) * time.Millisecond
	}
	n := 0
	if b, ok := body.Lookup("batchSize").AsInt64OK(); ok && b > 0 {
		n = int(b)
	}
	switch f := s.faults.take(ChangeStreamCommand); f {
	case FaultNone:
	case FaultDropGetMore:
		// Mid-request: the cursor's position stays where the last batch
		// left it, and the driver resumes after its last token.
		s.streams.Kill([]int64{id})
		return nil, errDrop
	default:
		return errorDoc(faultError(f)), nil
	}
	evs, pos, err := s.streams.Batch(ctx, cur, n, wait)
	if err != nil {
		var se *changestream.Error
		if errors.As(err, &se) && se.Code == changestream.CodeChangeStreamHistoryLost {
			s.streams.Kill([]int64{id})
		}
		return errorDoc(err), nil
	}
	return s.cursorReply(cur, "nextBatch", evs, pos), nil
}

// killCursors answers when the cursors are the stand-in's.
func (s *Server) killCursors(body bsoncore.Document) (bsoncore.Document, bool) {
	arr, ok := body.Lookup("cursors").ArrayOK()
	if !ok {
		return nil, false
	}
	vals, _ := arr.Values()
	var ids []int64
	for _, v := range vals {
		id, ok := v.AsInt64OK()
		if !ok || !changestream.IsOurs(id) {
			return nil, false
		}
		ids = append(ids, id)
	}
	killed, notFound := s.streams.Kill(ids)
	list := func(ids []int64) bsoncore.Array {
		a := bsoncore.NewArrayBuilder()
		for _, id := range ids {
			a.AppendInt64(id)
		}
		return a.Build()
	}
	return s.ok(bsoncore.NewDocumentBuilder().
		AppendArray("cursorsKilled", list(killed)).
		AppendArray("cursorsNotFound", list(notFound)).
		AppendArray("cursorsAlive", list(nil)).
		AppendArray("cursorsUnknown", list(nil))), true
}

// Fault is a failure the next change stream commands meet.
type Fault int

// The faults.
const (
	FaultNone Fault = iota
	// FaultDropGetMore closes the connection in the middle of a getMore
	// of a change stream, without an answer.
	FaultDropGetMore
	// FaultStepDown answers getMore (and $changeStream aggregates) with a
	// primary step-down error (PrimarySteppedDown, 189) carrying the
	// ResumableChangeStreamError label.
	FaultStepDown
)

// ChangeStreamCommand is what faults apply to.
const ChangeStreamCommand = "changeStream"

var faultNames = map[string]Fault{"off": FaultNone, "dropGetMore": FaultDropGetMore, "stepDown": FaultStepDown}

type faults struct {
	mu    sync.Mutex
	fault Fault
	left  int
}

func (f *faults) set(fault Fault, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.left = fault, n
}

func (f *faults) take(string) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.left <= 0 || f.fault == FaultNone {
		return FaultNone
	}
	f.left--
	return f.fault
}

func faultError(f Fault) error {
	return &changestream.Error{Code: 189, Name: "PrimarySteppedDown",
		Msg: "courier-mongo fault: the primary stepped down", Labels: []string{"ResumableChangeStreamError"}}
}

// faultCommand: {courierFault: "dropGetMore"|"stepDown"|"off", times: n}.
func (s *Server) faultCommand(body bsoncore.Document) bsoncore.Document {
	name, _ := body.Lookup("courierFault").StringValueOK()
	f, ok := faultNames[name]
	if !ok {
		return errorDoc(&changestream.Error{Code: 2, Name: "BadValue", Msg: "courierFault: one of off, dropGetMore, stepDown"})
	}
	n := 1
	if v, ok := body.Lookup("times").AsInt64OK(); ok {
		n = int(v)
	}
	s.SetFault(f, n)
	return s.ok(nil)
}
