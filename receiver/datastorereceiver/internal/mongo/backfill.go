package mongo

import (
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/backlog"

	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// doc is one document the backfill read.
type doc struct {
	id        bson.RawValue
	createdAt time.Time
	raw       bson.Raw
}

// history is what the backfill reads: the HealthEvents collection
// (collHistory), or a fake in tests. Every query is served by NVSentinel's
// one index on the collection, {createdAt: 1} (its TTL index), and _id's:
// no query sorts on two keys, which that index cannot serve without a
// blocking sort of the whole range.
type history interface {
	// group returns up to limit documents with createdAt == at and _id >
	// after (every one of at when after is unset), in _id order.
	group(ctx context.Context, at time.Time, after bson.RawValue, limit int) ([]doc, error)
	// span returns up to limit documents with from < createdAt ≤ until
	// (from ≤ createdAt when inclusive), in createdAt order; documents with
	// equal createdAt come in any order.
	span(ctx context.Context, from time.Time, inclusive bool, until time.Time, limit int) ([]doc, error)
	// newest returns the createdAt of the (skip+1)-th newest document with
	// from ≤ createdAt ≤ until; a zero bound is no bound.
	newest(ctx context.Context, from, until time.Time, skip int64) (time.Time, bool, error)
	// countAfter counts the documents with after < createdAt ≤ until.
	countAfter(ctx context.Context, after, until time.Time) (int64, error)
	// groupNth returns the _id of the (skip+1)-th largest _id among the
	// documents with createdAt == at.
	groupNth(ctx context.Context, at time.Time, skip int64) (bson.RawValue, bool, error)
}

// planBackfill fixes what a backfill reads: the documents that exist now
// (createdAt ≤ the newest createdAt present), from from on, at most limit
// of them, the most recent ones. ok is false when there is nothing to
// read. It must run after the live stream's handover token was taken, so
// that every document inserted before that point is at most Until.
func planBackfill(ctx context.Context, h history, from time.Time, limit int64) (p BackfillPosition, ok bool, err error) {
	until, ok, err := h.newest(ctx, time.Time{}, time.Time{}, 0)
	if err != nil || !ok {
		return p, false, err
	}
	if !from.IsZero() && until.Before(from) {
		return p, false, nil
	}
	p = BackfillPosition{Active: true, Until: until, CreatedAt: from, Limit: limit}
	if limit <= 0 {
		return p, true, nil
	}
	// The oldest of the newest limit documents, in (createdAt, _id) order:
	// its createdAt c0, then how many of the c0 group are needed, then the
	// position just before the first of them.
	c0, found, err := h.newest(ctx, from, until, limit-1)
	if err != nil || !found {
		return p, err == nil, err // fewer than limit documents: all of them
	}
	later, err := h.countAfter(ctx, c0, until)
	if err != nil {
		return p, false, err
	}
	need := limit - later // ≥ 1: the limit-th newest has createdAt c0
	p.CreatedAt = c0
	if prev, found, err := h.groupNth(ctx, c0, need); err != nil {
		return p, false, err
	} else if found {
		p.ID = prev
	}
	return p, true, nil
}

// backfill reads the planned history, oldest first in (createdAt, _id)
// order, in keyset-paginated pages. While one page is handed out, the
// next is read: the server prepares a page while the pipeline decodes the
// last one, instead of each waiting for the other (one page more in
// memory, batch_size documents).
type backfill struct {
	cfg      BackfillConfig
	h        history
	handover bson.Raw // the live stream's start; every row's ResumeToken
	pos      BackfillPosition
	buf      []Row
	done     bool // the last page has been read
	pacer    backlog.Pacer
	ahead    *pageRead // the next page, being read

	// Rows created after dedupFrom may also be inserts the live stream
	// sees after handover; their ids are kept (the newest ones, bounded)
	// so that the stream can skip them.
	dedupFrom time.Time
	dedup     *recentIDs
}

func newBackfill(cfg BackfillConfig, h history, handover bson.Raw, pos BackfillPosition, dedup *recentIDs) *backfill {
	b := &backfill{cfg: cfg, h: h, handover: handover, pos: pos, dedup: dedup}
	if ts, ok := clusterTime(handover); ok {
		b.dedupFrom = timestampTime(ts).Add(-RecoveryMargin)
	} else {
		b.dedupFrom = time.Now().Add(-RecoveryMargin)
	}
	b.pacer = backlog.NewPacer(cfg.RateLimit, cfg.BatchSize)
	return b
}

// page is one page read: its rows, each with the position just after it,
// and the position after the page.
type page struct {
	pos  BackfillPosition
	done bool // the last page
	rows []Row
}

// pageRead is a page being read in the background.
type pageRead struct {
	ready chan struct{}
	p     page
	err   error
}

// next returns up to max rows, or done once the history is exhausted.
func (b *backfill) next(ctx context.Context, max int) (rows []Row, done bool, err error) {
	if len(b.buf) == 0 {
		if b.done {
			return nil, true, nil
		}
		p, err := b.nextPage(ctx)
		if err != nil {
			return nil, false, err
		}
		b.pos, b.done, b.buf = p.pos, p.done, p.rows
		for _, r := range p.rows {
			if b.dedup != nil && !r.CreatedAt.Before(b.dedupFrom) {
				b.dedup.add(r.ID)
			}
		}
		if !b.done {
			b.readAhead(ctx)
		}
		if len(b.buf) == 0 {
			return nil, b.done, nil
		}
	}
	rows, err = backlog.Take(ctx, b.pacer, &b.buf, max)
	return rows, false, err
}

// nextPage is the page after pos: the one read ahead, or read now when
// there is none or its read failed (reading a position again is
// harmless, and the error is then this call's, under this ctx).
func (b *backfill) nextPage(ctx context.Context) (page, error) {
	if a := b.ahead; a != nil {
		b.ahead = nil
		select {
		case <-a.ready:
			if a.err == nil {
				return a.p, nil
			}
		case <-ctx.Done():
			return page{}, ctx.Err()
		}
	}
	return b.fetch(ctx, b.pos)
}

// readAhead starts reading the page after pos.
func (b *backfill) readAhead(ctx context.Context) {
	a := &pageRead{ready: make(chan struct{})}
	b.ahead = a
	go func(pos BackfillPosition) {
		defer close(a.ready)
		a.p, a.err = b.fetch(ctx, pos)
	}(b.pos)
}

// fetch reads the page after pos. It touches no state of b but what
// stays fixed during the backfill, so that it can run ahead.
//
// A page is read in two steps: the rest of the current createdAt group by
// _id, then the following documents by createdAt. When the second step
// fills the page, its last createdAt group may be cut at an arbitrary
// member (ties come in index order, not _id order), so that group is left
// for the next page, which reads it by _id; a group larger than a whole
// page is read by _id from its start.
func (b *backfill) fetch(ctx context.Context, pos BackfillPosition) (page, error) {
	f := fetcher{b: b, page: page{pos: pos}}
	err := f.fetch(ctx)
	return f.page, err
}

// fetcher reads one page from pos, moving pos past it.
type fetcher struct {
	b *backfill
	page
}

func (f *fetcher) fetch(ctx context.Context) error {
	limit := f.b.cfg.BatchSize
	if f.pos.Limit > 0 {
		limit = int(min(int64(limit), f.pos.Limit-f.pos.Count))
	}
	if limit <= 0 {
		f.done = true
		return nil
	}
	var page []doc
	var ends []bool // ends[i]: page[i] is the last document of its createdAt group
	inclusive := false
	switch p := f.pos; {
	case p.After:
	case p.ID.Type == 0:
		inclusive = true
	default:
		g, err := f.b.h.group(ctx, p.CreatedAt, p.ID, limit)
		if err != nil {
			return f.failed(err)
		}
		page = g
		ends = make([]bool, len(g))
		if len(g) < limit {
			if len(g) > 0 {
				ends[len(g)-1] = true
			} else {
				f.pos.After, f.pos.ID = true, bson.RawValue{}
			}
		} else {
			f.emit(page, ends)
			return nil
		}
	}
	rem := limit - len(page)
	r, err := f.b.h.span(ctx, f.pos.CreatedAt, inclusive, f.pos.Until, rem)
	if err != nil {
		return f.failed(err)
	}
	full := len(r) == rem
	if full {
		last := r[len(r)-1].createdAt
		if r[0].createdAt.Equal(last) {
			// One group fills the rest of the page.
			if len(page) > 0 {
				f.emit(page, ends)
				return nil
			}
			g, err := f.b.h.group(ctx, last, bson.RawValue{}, rem)
			if err != nil {
				return f.failed(err)
			}
			ends = make([]bool, len(g))
			if len(g) < rem {
				if len(g) > 0 {
					ends[len(g)-1] = true
				} else {
					// Gone since (the TTL index expires documents).
					f.pos = BackfillPosition{Active: true, Until: f.pos.Until, CreatedAt: last, After: true,
						Count: f.pos.Count, Limit: f.pos.Limit}
				}
			}
			f.emit(g, ends)
			return nil
		}
		i := len(r)
		for r[i-1].createdAt.Equal(last) {
			i--
		}
		r = r[:i]
	}
	slices.SortStableFunc(r, func(x, y doc) int {
		if c := x.createdAt.Compare(y.createdAt); c != 0 {
			return c
		}
		return compareIDs(x.id, y.id)
	})
	for i := range r {
		page = append(page, r[i])
		ends = append(ends, i == len(r)-1 || !r[i+1].createdAt.Equal(r[i].createdAt))
	}
	f.done = !full
	f.emit(page, ends)
	return nil
}

// emit turns a page into rows, each with the position just after it.
// Only now, with the whole page in hand, does the position move.
func (f *fetcher) emit(page []doc, ends []bool) {
	rows := make([]Row, len(page))
	for i, d := range page {
		f.pos.Count++
		f.pos.CreatedAt = d.createdAt
		if ends[i] {
			f.pos.ID, f.pos.After = bson.RawValue{}, true
		} else {
			f.pos.ID, f.pos.After = d.id, false
		}
		id := idString(d.id)
		rows[i] = Row{
			ID:        id,
			CreatedAt: d.createdAt,
			Document:  d.raw,
			Token:     Token{ResumeToken: f.b.handover, CreatedAt: d.createdAt, Backfill: f.pos},
		}
	}
	f.rows = rows
}

func (f *fetcher) failed(err error) error {
	return fmt.Errorf("read backfill page after %s: %w", f.pos.CreatedAt.Format(time.RFC3339Nano), err)
}

// idString is a document's identity as Row.ID: the hex of an ObjectId,
// a string as it is, anything else in extended JSON.
func idString(v bson.RawValue) string {
	if oid, ok := v.ObjectIDOK(); ok {
		return oid.Hex()
	}
	if s, ok := v.StringValueOK(); ok {
		return s
	}
	return v.String()
}

// compareIDs orders _id values as the server does for the types
// NVSentinel uses (ObjectId, string); other values only get a stable
// order.
func compareIDs(a, b bson.RawValue) int {
	switch {
	case a.Type == bson.TypeString && b.Type == bson.TypeString:
		return strings.Compare(a.StringValue(), b.StringValue())
	case a.Type == bson.TypeObjectID && b.Type == bson.TypeObjectID:
		return bytes.Compare(a.Value, b.Value)
	case a.IsNumber() && b.IsNumber():
		return cmp.Compare(a.AsFloat64(), b.AsFloat64())
	}
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return bytes.Compare(a.Value, b.Value)
}

// recentIDs is a set of at most cap ids that forgets the oldest first.
type recentIDs struct {
	cap   int
	set   map[string]struct{}
	order []string // ring of the ids in set, oldest at head
	head  int
}

func newRecentIDs(capacity int) *recentIDs {
	return &recentIDs{cap: capacity, set: make(map[string]struct{})}
}

func (r *recentIDs) add(id string) {
	if _, ok := r.set[id]; ok {
		return
	}
	if len(r.order) < r.cap {
		r.order = append(r.order, id)
	} else {
		delete(r.set, r.order[r.head])
		r.order[r.head] = id
		r.head = (r.head + 1) % r.cap
	}
	r.set[id] = struct{}{}
}

// take reports whether id is in the set and removes it.
func (r *recentIDs) take(id string) bool {
	if _, ok := r.set[id]; !ok {
		return false
	}
	delete(r.set, id) // its slot in order is reused in turn
	return true
}

func (r *recentIDs) len() int { return len(r.set) }

func (r *recentIDs) clear() {
	clear(r.set)
	r.order, r.head = r.order[:0], 0
}
