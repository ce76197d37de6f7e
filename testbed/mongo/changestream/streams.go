package changestream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/courier-otel/courier/testbed/mongo/changelog"
)

// Error is a server error with MongoDB's code.
type Error struct {
	Code   int32
	Name   string
	Msg    string
	Labels []string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Name, e.Code, e.Msg) }

// Codes the stand-in answers with.
const (
	CodeBadValue                = 2
	CodeFailedToParse           = 9
	CodeCursorNotFound          = 43
	CodeInvalidResumeToken      = 260
	CodeChangeStreamFatalError  = 280
	CodeChangeStreamHistoryLost = 286
)

// Limits.
const (
	// MaxCursors bounds the open change stream cursors.
	MaxCursors = 10_000
	// CursorIdleTimeout is how long an unused cursor lives (as mongod's
	// cursorTimeoutMillis).
	CursorIdleTimeout = 10 * time.Minute
	// DefaultBatch is the most events in a batch when the client sets no
	// batchSize; MaxBatchBytes bounds a batch's size (under the 16 MiB of
	// a reply document).
	DefaultBatch  = 10_000
	MaxBatchBytes = 12 << 20
	// readPage is how many changelog entries one query reads.
	readPage = 2_000
	// cursorIDBase marks the stand-in's own cursor ids (FerretDB's are
	// small numbers).
	cursorIDBase = int64(0x4343_0000_0000_0000)
)

// Streams keeps the open change stream cursors.
type Streams struct {
	log      *changelog.Log
	replaced Replaced

	mu      sync.Mutex
	cursors map[int64]*Cursor
	next    int64
	hist    changelog.History
}

// New returns an empty set of cursors reading log.
func New(ctx context.Context, log *changelog.Log, replaced Replaced) (*Streams, error) {
	s := &Streams{log: log, replaced: replaced, cursors: map[int64]*Cursor{}}
	return s, s.refreshHistory(ctx)
}

func (s *Streams) refreshHistory(ctx context.Context) error {
	h, err := s.log.History(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.hist = h
	s.mu.Unlock()
	return nil
}

// Trim drops the history (see changelog.Log.Trim).
func (s *Streams) Trim(ctx context.Context) error {
	if err := s.log.Trim(ctx); err != nil {
		return err
	}
	return s.refreshHistory(ctx)
}

// IsOurs reports whether a cursor id is one of the stand-in's, open or not.
func IsOurs(id int64) bool { return id&^0xffff_ffff_ffff == cursorIDBase }

// Cursor is an open change stream.
type Cursor struct {
	ID       int64
	DB, Coll string // Coll is empty for a database-wide stream
	opts     Options
	pipeline Pipeline
	batch    int

	mu       sync.Mutex // one getMore at a time
	pos      Position
	minT     uint32 // startAtOperationTime: events before (minT, minI) are skipped
	minI     uint32
	lastUsed time.Time
}

// Position is where the cursor is.
func (c *Cursor) Position() Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

// NS is the cursor's namespace as replies name it.
func (c *Cursor) NS() string {
	if c.Coll == "" {
		return c.DB + ".$cmd.aggregate"
	}
	return c.DB + "." + c.Coll
}

// OpenRequest is a parsed $changeStream aggregate.
type OpenRequest struct {
	DB, Coll  string
	Stage     bsoncore.Document // the $changeStream stage's options
	Rest      []bsoncore.Document
	BatchSize int // of the first batch; -1 when not set
}

// Open opens a cursor: where it starts, its stages and options.
func (s *Streams) Open(ctx context.Context, r OpenRequest) (*Cursor, error) {
	c := &Cursor{DB: r.DB, Coll: r.Coll, batch: DefaultBatch, lastUsed: time.Now()}
	pipe, err := CompilePipeline(r.Rest)
	if err != nil {
		return nil, &Error{Code: CodeBadValue, Name: "BadValue", Msg: err.Error()}
	}
	c.pipeline = pipe
	elems, err := r.Stage.Elements()
	if err != nil {
		return nil, &Error{Code: CodeFailedToParse, Name: "FailedToParse", Msg: "$changeStream: " + err.Error()}
	}
	var (
		from    *Position
		startAt bool
	)
	s.mu.Lock()
	hist := s.hist
	s.mu.Unlock()
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "fullDocument":
			c.opts.FullDocument = v.StringValue()
		case "fullDocumentBeforeChange":
			c.opts.FullDocumentBeforeChange = v.StringValue()
		case "resumeAfter", "startAfter":
			d, ok := v.DocumentOK()
			if !ok {
				return nil, &Error{Code: CodeFailedToParse, Name: "FailedToParse", Msg: e.Key() + " must be an object"}
			}
			p, err := ParseToken(d)
			if err != nil {
				return nil, &Error{Code: CodeInvalidResumeToken, Name: "InvalidResumeToken", Msg: err.Error()}
			}
			from = &p
		case "startAtOperationTime":
			t, i, ok := v.TimestampOK()
			if !ok {
				return nil, &Error{Code: CodeFailedToParse, Name: "FailedToParse", Msg: "startAtOperationTime must be a timestamp"}
			}
			if t < hist.StartT {
				return nil, historyLost(fmt.Sprintf("startAtOperationTime %d.%d is before the retained history (from %d).", t, i, hist.StartT))
			}
			seq, err := s.log.SeqBefore(ctx, t, i)
			if err != nil {
				return nil, err
			}
			from, startAt = &Position{Seq: seq, T: t, I: i}, true
			c.minT, c.minI = t, i
		case "allChangesForCluster":
			if v.Boolean() {
				return nil, &Error{Code: CodeBadValue, Name: "BadValue", Msg: "allChangesForCluster is not supported by courier-mongo"}
			}
		case "showExpandedEvents", "showRawUpdateDescription":
			// Only the events it always shows exist here.
		default:
			return nil, &Error{Code: 40415, Name: "Location40415", Msg: "BSON field '$changeStream." + e.Key() + "' is an unknown field."}
		}
	}
	if from == nil {
		h, err := s.log.Head(ctx)
		if err != nil {
			return nil, err
		}
		now := uint32(time.Now().Unix())
		from = &Position{Seq: h.Seq, T: max(now, h.T)}
		if from.T == h.T {
			from.I = h.I
		}
	} else if !startAt && (from.Seq < hist.Trimmed || from.T < hist.StartT) {
		return nil, historyLost(fmt.Sprintf("The token (cluster time %d, position %d) is older than the retained history (from %d, after position %d).", from.T, from.Seq, hist.StartT, hist.Trimmed))
	}
	c.pos = *from

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reap()
	if len(s.cursors) >= MaxCursors {
		return nil, &Error{Code: 2, Name: "BadValue", Msg: fmt.Sprintf("courier-mongo: too many open change streams (%d)", MaxCursors)}
	}
	s.next++
	c.ID = cursorIDBase | s.next
	s.cursors[c.ID] = c
	return c, nil
}

func historyLost(msg string) error {
	return &Error{Code: CodeChangeStreamHistoryLost, Name: "ChangeStreamHistoryLost",
		Msg: "Resume of change stream was not possible, as the resume point may no longer be in the oplog. " + msg}
}

// reap closes idle cursors; s.mu is held.
func (s *Streams) reap() {
	for id, c := range s.cursors {
		if c.mu.TryLock() {
			idle := time.Since(c.lastUsed) > CursorIdleTimeout
			c.mu.Unlock()
			if idle {
				delete(s.cursors, id)
			}
		}
	}
}

// Get returns an open cursor.
func (s *Streams) Get(id int64) (*Cursor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cursors[id]
	return c, ok
}

// Kill closes cursors and reports which existed.
func (s *Streams) Kill(ids []int64) (killed, notFound []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.cursors[id]; ok {
			delete(s.cursors, id)
			killed = append(killed, id)
		} else {
			notFound = append(notFound, id)
		}
	}
	return killed, notFound
}

// CloseAll forgets every cursor (a restarted server has none).
func (s *Streams) CloseAll() {
	s.mu.Lock()
	clear(s.cursors)
	s.mu.Unlock()
}

// Batch returns the next events of c (at most max, or the cursor's
// batch size when max < 1), waiting up to wait for the first one, and the
// post-batch resume token's position.
func (s *Streams) Batch(ctx context.Context, c *Cursor, max int, wait time.Duration) ([]bsoncore.Document, Position, error) {
	if !c.mu.TryLock() {
		return nil, Position{}, &Error{Code: 2, Name: "BadValue", Msg: "cursor is in use by another getMore"}
	}
	defer c.mu.Unlock()
	defer func() { c.lastUsed = time.Now() }()
	if max < 1 {
		max = c.batch
	}
	deadline := time.Now().Add(wait)
	var (
		out  []bsoncore.Document
		size int
	)
	for {
		s.mu.Lock()
		hist := s.hist
		s.mu.Unlock()
		if c.pos.Seq < hist.Trimmed {
			return nil, c.pos, historyLost("The change stream fell behind the retained history.")
		}
		changed := s.log.Changed()
		head, err := s.log.Head(ctx)
		if err != nil {
			return nil, c.pos, err
		}
		entries, err := s.log.Read(ctx, c.DB, c.Coll, c.pos.Seq, readPage)
		if err != nil {
			return nil, c.pos, err
		}
		for _, e := range entries {
			if e.T < c.minT || (e.T == c.minT && e.I < c.minI) {
				c.pos = Position{Seq: e.Seq, T: e.T, I: e.I}
				continue
			}
			ev, err := Event(e, c.opts, s.replaced)
			if err != nil {
				return nil, c.pos, &Error{Code: CodeChangeStreamFatalError, Name: "ChangeStreamFatalError", Msg: err.Error()}
			}
			id := ev.Lookup("_id")
			keep := true
			for _, st := range c.pipeline {
				if ev, keep = st(ev); !keep {
					break
				}
			}
			if keep {
				if got, err := ev.LookupErr("_id"); err != nil || !got.Equal(id) {
					return nil, c.pos, &Error{Code: CodeChangeStreamFatalError, Name: "ChangeStreamFatalError",
						Msg: "Encountered an event whose _id field, which contains the resume token, was modified by the pipeline."}
				}
				if len(out) > 0 && size+len(ev) > MaxBatchBytes {
					return out, c.pos, nil
				}
				out = append(out, ev)
				size += len(ev)
			}
			c.pos = Position{Seq: e.Seq, T: e.T, I: e.I}
			if len(out) >= max {
				return out, c.pos, nil
			}
		}
		if len(entries) == readPage {
			continue // more to read
		}
		// Every entry of ours up to head has been read (head was visible
		// before the read): the position may move there, with the cluster
		// time of now when no entry had a later one.
		if head.Seq > c.pos.Seq {
			c.pos.Seq = head.Seq
		}
		if now := uint32(time.Now().Unix()); now > c.pos.T {
			c.pos.T, c.pos.I = now, 0
		}
		if len(out) > 0 {
			return out, c.pos, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return out, c.pos, nil
		}
		t := time.NewTimer(left)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, c.pos, ctx.Err()
		}
		t.Stop()
	}
}
