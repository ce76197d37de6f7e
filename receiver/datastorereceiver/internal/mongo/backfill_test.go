package mongo

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// memHistory is history over documents in memory, answering like the
// server with NVSentinel's indexes: span returns ties on createdAt in
// insertion order (the index's record order), not in _id order.
type memHistory struct {
	docs  []doc // in insertion order
	calls int
}

func (m *memHistory) insert(at time.Time, id bson.ObjectID) {
	raw, err := bson.Marshal(bson.D{{Key: "_id", Value: id}, {Key: "createdAt", Value: at}})
	if err != nil {
		panic(err)
	}
	m.docs = append(m.docs, doc{id: bson.RawValue{Type: bson.TypeObjectID, Value: id[:]}, createdAt: at, raw: raw})
}

func (m *memHistory) filter(keep func(doc) bool) []doc {
	var out []doc
	for _, d := range m.docs {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

func first(docs []doc, n int) []doc { return docs[:min(n, len(docs))] }

func (m *memHistory) group(_ context.Context, at time.Time, after bson.RawValue, limit int) ([]doc, error) {
	m.calls++
	g := m.filter(func(d doc) bool {
		return d.createdAt.Equal(at) && (after.Type == 0 || compareIDs(d.id, after) > 0)
	})
	slices.SortFunc(g, func(x, y doc) int { return compareIDs(x.id, y.id) })
	return first(g, limit), nil
}

func (m *memHistory) span(_ context.Context, from time.Time, inclusive bool, until time.Time, limit int) ([]doc, error) {
	m.calls++
	s := m.filter(func(d doc) bool {
		return (d.createdAt.After(from) || inclusive && d.createdAt.Equal(from)) && !d.createdAt.After(until)
	})
	slices.SortStableFunc(s, func(x, y doc) int { return x.createdAt.Compare(y.createdAt) })
	return first(s, limit), nil
}

func (m *memHistory) newest(_ context.Context, from, until time.Time, skip int64) (time.Time, bool, error) {
	m.calls++
	s := m.filter(func(d doc) bool {
		return (from.IsZero() || !d.createdAt.Before(from)) && (until.IsZero() || !d.createdAt.After(until))
	})
	slices.SortStableFunc(s, func(x, y doc) int { return y.createdAt.Compare(x.createdAt) })
	if int64(len(s)) <= skip {
		return time.Time{}, false, nil
	}
	return s[skip].createdAt, true, nil
}

func (m *memHistory) countAfter(_ context.Context, after, until time.Time) (int64, error) {
	m.calls++
	return int64(len(m.filter(func(d doc) bool { return d.createdAt.After(after) && !d.createdAt.After(until) }))), nil
}

func (m *memHistory) groupNth(_ context.Context, at time.Time, skip int64) (bson.RawValue, bool, error) {
	m.calls++
	g := m.filter(func(d doc) bool { return d.createdAt.Equal(at) })
	slices.SortFunc(g, func(x, y doc) int { return compareIDs(y.id, x.id) })
	if int64(len(g)) <= skip {
		return bson.RawValue{}, false, nil
	}
	return g[skip].id, true, nil
}

// sorted is the documents in (createdAt, _id) order.
func (m *memHistory) sorted() []doc {
	s := slices.Clone(m.docs)
	slices.SortFunc(s, func(x, y doc) int {
		return cmp.Or(x.createdAt.Compare(y.createdAt), compareIDs(x.id, y.id))
	})
	return s
}

var base = time.Date(2026, 7, 14, 10, 0, 0, 0, time.UTC)

// randomHistory inserts n documents over a few seconds at millisecond
// precision, many sharing a createdAt (groups of up to maxGroup), in an
// order unrelated to their _ids.
func randomHistory(r *rand.Rand, n, maxGroup int) *memHistory {
	m := &memHistory{}
	at := base
	for len(m.docs) < n {
		at = at.Add(time.Duration(1+r.IntN(3)) * time.Millisecond)
		for range min(1+r.IntN(maxGroup), n-len(m.docs)) {
			var id bson.ObjectID
			for i := range id {
				id[i] = byte(r.IntN(256))
			}
			m.insert(at, id)
		}
	}
	r.Shuffle(len(m.docs), func(i, j int) { m.docs[i], m.docs[j] = m.docs[j], m.docs[i] })
	return m
}

// drain runs a backfill to its end, max rows per call.
func drain(t *testing.T, b *backfill, max int) []Row {
	t.Helper()
	var rows []Row
	for i := 0; ; i++ {
		got, done, err := b.next(context.Background(), max)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			return rows
		}
		if len(got) > max {
			t.Fatalf("next(%d) returned %d rows", max, len(got))
		}
		rows = append(rows, got...)
		if i > 100_000 {
			t.Fatal("backfill does not end")
		}
	}
}

func wantIDs(docs []doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = idString(d.id)
	}
	return out
}

func rowIDs(rows []Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func plan(t *testing.T, h history, from time.Time, limit int64) BackfillPosition {
	t.Helper()
	p, ok, err := planBackfill(context.Background(), h, from, limit)
	if err != nil || !ok {
		t.Fatalf("plan: %v, %v", ok, err)
	}
	return p
}

var handover = func() bson.Raw { // any token: the backfill only hands it on
	b, err := bson.Marshal(bson.D{{Key: "_data", Value: "8266A1B2C3000000022B"}})
	if err != nil {
		panic(err)
	}
	return b
}()

func newTestBackfill(h history, batch int, p BackfillPosition) *backfill {
	return newBackfill(BackfillConfig{Enabled: true, BatchSize: batch}, h, handover, p, nil)
}

// TestBackfillOrder: every document once, in (createdAt, _id) order,
// whatever the page size and however large the createdAt groups.
func TestBackfillOrder(t *testing.T) {
	for _, tc := range []struct{ n, group, batch, max int }{
		{500, 1, 1000, 100},
		{500, 5, 1, 10},
		{500, 5, 2, 3},
		{500, 5, 7, 7},
		{500, 40, 16, 100}, // groups larger than a page
		{500, 3, 37, 1},
		{0, 1, 10, 10},
	} {
		t.Run(fmt.Sprintf("n%d_group%d_batch%d", tc.n, tc.group, tc.batch), func(t *testing.T) {
			h := randomHistory(rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.batch))), tc.n, tc.group)
			if tc.n == 0 {
				if _, ok, err := planBackfill(context.Background(), h, time.Time{}, 0); ok || err != nil {
					t.Fatalf("empty collection: plan %v, %v", ok, err)
				}
				return
			}
			rows := drain(t, newTestBackfill(h, tc.batch, plan(t, h, time.Time{}, 0)), tc.max)
			if got, want := rowIDs(rows), wantIDs(h.sorted()); !slices.Equal(got, want) {
				t.Fatalf("got %d rows, want %d in (createdAt, _id) order", len(got), len(want))
			}
			for i, r := range rows {
				if r.Token.Backfill.Count != int64(i+1) || !r.Token.Backfill.Active || !r.Token.CreatedAt.Equal(r.CreatedAt) {
					t.Fatalf("row %d: token %+v", i, r.Token)
				}
			}
		})
	}
}

// TestBackfillResume: a backfill opened on any row's token continues
// with exactly the rows after it.
func TestBackfillResume(t *testing.T) {
	h := randomHistory(rand.New(rand.NewPCG(7, 7)), 300, 12)
	all := drain(t, newTestBackfill(h, 10, plan(t, h, time.Time{}, 0)), 4)
	for i := range all {
		rest := drain(t, newTestBackfill(h, 10, all[i].Token.Backfill), 4)
		if !slices.Equal(rowIDs(rest), rowIDs(all[i+1:])) {
			t.Fatalf("resumed after row %d (%+v): got %d rows, want %d", i, all[i].Token.Backfill, len(rest), len(all)-i-1)
		}
		if len(rest) > 0 && rest[0].Token.Backfill.Count != int64(i+2) {
			t.Fatalf("resumed count %d, want %d", rest[0].Token.Backfill.Count, i+2)
		}
	}
}

// TestBackfillLimits: MaxEvents keeps the newest ones (exactly, even
// when the cut falls inside a createdAt group), MaxAge the recent ones.
func TestBackfillLimits(t *testing.T) {
	h := randomHistory(rand.New(rand.NewPCG(3, 4)), 400, 9)
	sorted := h.sorted()
	for _, limit := range []int64{1, 2, 17, 50, 399, 400, 1000} {
		rows := drain(t, newTestBackfill(h, 16, plan(t, h, time.Time{}, limit)), 5)
		want := sorted[max(0, len(sorted)-int(limit)):]
		if !slices.Equal(rowIDs(rows), wantIDs(want)) {
			t.Fatalf("max events %d: got %d rows, want the newest %d", limit, len(rows), len(want))
		}
	}
	from := sorted[123].createdAt
	rows := drain(t, newTestBackfill(h, 16, plan(t, h, from, 0)), 50)
	var want []doc
	for _, d := range sorted {
		if !d.createdAt.Before(from) {
			want = append(want, d)
		}
	}
	if !slices.Equal(rowIDs(rows), wantIDs(want)) {
		t.Fatalf("from %v: got %d rows, want %d", from, len(rows), len(want))
	}
	rows = drain(t, newTestBackfill(h, 16, plan(t, h, from, 30)), 50)
	if !slices.Equal(rowIDs(rows), wantIDs(want[len(want)-30:])) {
		t.Fatalf("from and max events: got %d rows", len(rows))
	}
	if _, ok, _ := planBackfill(context.Background(), h, sorted[len(sorted)-1].createdAt.Add(time.Second), 0); ok {
		t.Error("a backfill from after the newest document has work to do")
	}
}

// TestBackfillUntil: documents created after the plan (after the
// handover) are left to the live stream.
func TestBackfillUntil(t *testing.T) {
	h := randomHistory(rand.New(rand.NewPCG(5, 6)), 100, 4)
	want := wantIDs(h.sorted())
	p := plan(t, h, time.Time{}, 0)
	for i := range 20 {
		h.insert(p.Until.Add(time.Duration(i+1)*time.Millisecond), bson.NewObjectID())
	}
	if rows := drain(t, newTestBackfill(h, 8, p), 8); !slices.Equal(rowIDs(rows), want) {
		t.Fatalf("got %d rows, want the %d planned", len(rows), len(want))
	}
}

// TestBackfillPageQueries: a page costs at most three queries, however
// the groups fall.
func TestBackfillPageQueries(t *testing.T) {
	h := randomHistory(rand.New(rand.NewPCG(9, 9)), 2000, 30)
	b := newTestBackfill(h, 100, plan(t, h, time.Time{}, 0))
	h.calls = 0
	rows := drain(t, b, 1000)
	if pages := (len(rows) + 99) / 100; h.calls > 3*pages+2 {
		t.Errorf("%d queries for %d rows", h.calls, len(rows))
	}
}

func TestBackfillRateLimit(t *testing.T) {
	h := randomHistory(rand.New(rand.NewPCG(1, 1)), 60, 1)
	b := newBackfill(BackfillConfig{BatchSize: 100, RateLimit: 200}, h, handover, plan(t, h, time.Time{}, 0), nil)
	start := time.Now()
	rows := drain(t, b, 100)
	// 60 events at 200/s with a burst of 20: at least 0.2 s.
	if len(rows) != 60 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("%d rows in %v", len(rows), time.Since(start))
	}
}

func TestBackfillDedupSet(t *testing.T) {
	h := &memHistory{}
	now := time.Now().UTC().Truncate(time.Millisecond)
	old, recent := bson.NewObjectID(), bson.NewObjectID()
	h.insert(now.Add(-time.Hour), old)
	h.insert(now.Add(-time.Second), recent)
	tok, err := bson.Marshal(bson.D{{Key: "_data", Value: fmt.Sprintf("82%08X00000001", now.Unix())}})
	if err != nil {
		t.Fatal(err)
	}
	set := newRecentIDs(10)
	b := newBackfill(BackfillConfig{BatchSize: 10}, h, tok, plan(t, h, time.Time{}, 0), set)
	drain(t, b, 10)
	if set.len() != 1 || !set.take(recent.Hex()) {
		t.Errorf("dedup set holds %d ids, want only the recent one", set.len())
	}
}

func TestRecentIDs(t *testing.T) {
	r := newRecentIDs(3)
	for _, id := range []string{"a", "b", "c", "d"} {
		r.add(id)
	}
	if r.take("a") || !r.take("b") || r.take("b") || r.len() != 2 {
		t.Errorf("after 4 adds to a set of 3: %v", r.set)
	}
	r.clear()
	if r.len() != 0 || r.take("c") {
		t.Error("clear left ids")
	}
}

func TestCompareIDs(t *testing.T) {
	a, b := bson.NewObjectID(), bson.NewObjectID()
	ra, rb := bson.RawValue{Type: bson.TypeObjectID, Value: a[:]}, bson.RawValue{Type: bson.TypeObjectID, Value: b[:]}
	if compareIDs(ra, rb) >= 0 || compareIDs(rb, ra) <= 0 || compareIDs(ra, ra) != 0 {
		t.Error("ObjectIds out of order")
	}
	str := func(s string) bson.RawValue {
		_, v, _ := bson.MarshalValue(s)
		return bson.RawValue{Type: bson.TypeString, Value: v}
	}
	if compareIDs(str("a"), str("b")) >= 0 {
		t.Error("strings out of order")
	}
	if idString(ra) != a.Hex() || idString(str("x")) != "x" {
		t.Error("idString")
	}
}

// signalHistory tells of every page query as it starts.
type signalHistory struct {
	*memHistory
	started chan struct{}
}

func (s signalHistory) span(ctx context.Context, from time.Time, inclusive bool, until time.Time, limit int) ([]doc, error) {
	s.started <- struct{}{}
	return s.memHistory.span(ctx, from, inclusive, until, limit)
}

// TestBackfillReadsAhead: while the rows of one page are handed out, the
// next page is read, and the rows still come once each, in order.
func TestBackfillReadsAhead(t *testing.T) {
	h := randomHistory(rand.New(rand.NewPCG(3, 3)), 100, 1)
	want := wantIDs(h.sorted())
	p := plan(t, h, time.Time{}, 0)
	sh := signalHistory{memHistory: h, started: make(chan struct{}, 100)}
	b := newTestBackfill(sh, 10, p)
	rows, done, err := b.next(context.Background(), 3)
	if err != nil || done || len(rows) != 3 {
		t.Fatalf("first rows: %d, %v, %v", len(rows), done, err)
	}
	for i := range 2 { // the first page's query, then the next page's
		select {
		case <-sh.started:
		case <-time.After(10 * time.Second):
			t.Fatalf("query %d of 2 never started: the next page is not read ahead", i+1)
		}
	}
	rest := drain(t, b, 7)
	if got := append(rowIDs(rows), rowIDs(rest)...); !slices.Equal(got, want) {
		t.Fatalf("got %d rows, want %d in order", len(got), len(want))
	}
}
