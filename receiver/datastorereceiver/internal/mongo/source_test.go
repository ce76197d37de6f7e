package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap/zaptest"
)

// Tests against a replica set (COURIER_TEST_MONGODB_URI).

// TestLiveStream: inserts come in insert order, tokens resume after the
// last saved row, and a document that is not a health event is a row too.
func TestLiveStream(t *testing.T) {
	d := newTestDB(t, replicaSetURI(t))
	src := open(t, d.cfg)
	ids := d.insert(t, 50, "live", now)
	odd := bson.NewObjectID()
	if _, err := d.events.InsertOne(testCtx(t, 10*time.Second), bson.D{{Key: "_id", Value: odd}, {Key: "note", Value: "not a health event"}}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, odd.Hex())

	rows := collect(t, src, len(ids), 30*time.Second)
	if !slices.Equal(rowIDs(rows), ids) {
		t.Fatalf("got %v, want %v", rowIDs(rows), ids)
	}
	for _, r := range rows[:50] {
		if r.CreatedAt.IsZero() || r.Document.Lookup("healthevent").Type != bson.TypeEmbeddedDocument || r.Token.ResumeToken == nil {
			t.Fatalf("row %s: %+v", r.ID, r)
		}
	}
	if rows[50].Token.CreatedAt.IsZero() {
		t.Error("a row without createdAt has no time in its token (want its cluster time)")
	}
	expectNothing(t, src, 300*time.Millisecond)
	if err := src.SaveToken(testCtx(t, 10*time.Second), rows[29].Token); err != nil {
		t.Fatal(err)
	}
	_ = src.Close()

	again := open(t, d.cfg)
	if got := collect(t, again, 21, 30*time.Second); !slices.Equal(rowIDs(got), ids[30:]) {
		t.Fatalf("resumed: got %v, want %v", rowIDs(got), ids[30:])
	}
	more := d.insert(t, 3, "more", now)
	if got := collect(t, again, 3, 30*time.Second); !slices.Equal(rowIDs(got), more) {
		t.Fatalf("after resume: got %v, want %v", rowIDs(got), more)
	}
}

// TestStartWithoutTokenSavesStart: a crash before the first delivery does
// not skip what was inserted meanwhile.
func TestStartWithoutTokenSavesStart(t *testing.T) {
	d := newTestDB(t, replicaSetURI(t))
	src := open(t, d.cfg)
	_ = src.Close() // crash before anything is delivered
	ids := d.insert(t, 5, "meanwhile", now)
	again := open(t, d.cfg)
	if got := collect(t, again, 5, 30*time.Second); !slices.Equal(rowIDs(got), ids) {
		t.Fatalf("got %v, want %v", rowIDs(got), ids)
	}
}

// nvsentinelWatch opens the change stream NVSentinel's exporter opens.
func nvsentinelWatch(t *testing.T, d testDB, resumeAfter bson.Raw) *mongo.ChangeStream {
	t.Helper()
	opts := options.ChangeStream().SetFullDocument(options.UpdateLookup)
	if resumeAfter != nil {
		opts.SetResumeAfter(resumeAfter)
	}
	cs, err := d.events.Watch(testCtx(t, 30*time.Second), mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"insert"}}}}}}},
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close(context.Background()) })
	return cs
}

// TestTokensInterchangeWithNVSentinel: Courier continues after a token
// NVSentinel's exporter stored, and NVSentinel after one of Courier's.
func TestTokensInterchangeWithNVSentinel(t *testing.T) {
	d := newTestDB(t, replicaSetURI(t))
	ctx := testCtx(t, time.Minute)
	cs := nvsentinelWatch(t, d, nil)
	ids := d.insert(t, 10, "nv", now)
	for range 4 {
		if !cs.Next(ctx) {
			t.Fatal(cs.Err())
		}
	}
	// MarkProcessed: $set resumeToken to the stream's token, upsert.
	_, err := d.tokens.UpdateOne(ctx, bson.M{"clientName": "event-exporter"},
		bson.M{"$set": bson.M{"resumeToken": cs.ResumeToken()}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		t.Fatal(err)
	}

	src := open(t, d.cfg)
	rows := collect(t, src, 6, 30*time.Second)
	if !slices.Equal(rowIDs(rows), ids[4:]) {
		t.Fatalf("from NVSentinel's token: got %v, want %v", rowIDs(rows), ids[4:])
	}
	if err := src.SaveToken(ctx, rows[2].Token); err != nil { // ids[6]
		t.Fatal(err)
	}

	// NVSentinel's watcher reads TokenDoc{ResumeToken bson.Raw} by
	// clientName and resumes after it.
	var tok struct {
		ResumeToken bson.Raw `bson:"resumeToken"`
	}
	if err := d.tokens.FindOne(ctx, bson.M{"clientName": "event-exporter"}).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.tokens.CountDocuments(ctx, bson.M{"clientName": "event-exporter"}); n != 1 {
		t.Fatalf("%d token documents for the client, want 1", n)
	}
	cs2 := nvsentinelWatch(t, d, tok.ResumeToken)
	var got []string
	for len(got) < 3 && cs2.Next(ctx) {
		id, _ := cs2.Current.Lookup("fullDocument", "_id").ObjectIDOK()
		got = append(got, id.Hex())
	}
	if !slices.Equal(got, ids[7:]) {
		t.Fatalf("NVSentinel from our token: got %v (%v), want %v", got, cs2.Err(), ids[7:])
	}
}

// TestBackfillWithConcurrentInserts: history first, oldest first, then
// live; inserts during the backfill are all delivered.
func TestBackfillWithConcurrentInserts(t *testing.T) {
	d := newTestDB(t, replicaSetURI(t))
	start := time.Now().Add(-time.Hour)
	// Pairs share a createdAt.
	old := d.insert(t, 300, "old", func(i int) time.Time { return start.Add(time.Duration(i/2) * time.Second) })
	tooOld := d.insert(t, 5, "too-old", func(int) time.Time { return start.Add(-2 * time.Hour) })
	cfg := d.cfg
	cfg.Backfill = BackfillConfig{Enabled: true, BatchSize: 40, MaxAge: 2 * time.Hour}
	src := open(t, cfg)

	var (
		mu   sync.Mutex
		live []string
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		for i := range 50 {
			id := bson.NewObjectID()
			_, err := d.events.InsertOne(context.Background(), healthDoc(id, fmt.Sprint("live-", i), time.Now()))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			live = append(live, id.Hex())
			mu.Unlock()
		}
	})
	rows := collect(t, src, 300, 30*time.Second)
	wg.Wait()
	var want []string
	for _, r := range rows {
		if !r.Token.Backfill.Active {
			t.Fatalf("history row %s has no backfill position", r.ID)
		}
	}
	// History in (createdAt, _id) order.
	for i := 0; i < len(old); i += 2 {
		pair := []string{old[i], old[i+1]}
		slices.Sort(pair)
		want = append(want, pair...)
	}
	if !slices.Equal(rowIDs(rows), want) {
		t.Fatalf("history: got %v\nwant %v", rowIDs(rows), want)
	}
	mu.Lock()
	liveIDs := slices.Clone(live)
	mu.Unlock()
	seen := map[string]int{}
	for len(seen) < len(liveIDs) {
		for _, r := range collect(t, src, 1, 30*time.Second) {
			if r.Token.Backfill.Active {
				t.Fatalf("live row %s has a backfill position", r.ID)
			}
			seen[r.ID]++
		}
	}
	for _, id := range liveIDs {
		if seen[id] != 1 {
			t.Errorf("live event %s delivered %d times", id, seen[id])
		}
	}
	for _, id := range tooOld {
		if seen[id] > 0 {
			t.Errorf("event older than max_age %s delivered", id)
		}
	}
	if st := src.Stats(); st.Backfilling || st.BackfillRows != 300 {
		t.Errorf("stats %+v", st)
	}
}

// TestBackfillResumesAfterCrash: a source opened on a backfill row's token
// continues the backfill after it, then goes live from the handover.
func TestBackfillResumesAfterCrash(t *testing.T) {
	d := newTestDB(t, replicaSetURI(t))
	start := time.Now().Add(-time.Hour)
	d.insert(t, 100, "old", func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) })
	cfg := d.cfg
	cfg.Backfill = BackfillConfig{Enabled: true, BatchSize: 16, MaxEvents: 80}
	src := open(t, cfg)
	all := collect(t, src, 80, 30*time.Second)
	_ = src.Close()

	// Crash after delivering 30: reopen on that token.
	st, _, err := tokens{coll: d.tokens, client: DefaultClientName}.load(testCtx(t, 10*time.Second))
	if err != nil || !st.Backfill.Active || st.Backfill.Count != 0 {
		t.Fatalf("the backfill start was not saved: %+v, %v", st, err)
	}
	if err := (tokens{coll: d.tokens, client: DefaultClientName}).save(testCtx(t, 10*time.Second), all[29].Token); err != nil {
		t.Fatal(err)
	}
	live := d.insert(t, 3, "live", now)
	again := open(t, cfg)
	rest := collect(t, again, 53, 30*time.Second)
	if !slices.Equal(rowIDs(rest[:50]), rowIDs(all[30:])) || !slices.Equal(rowIDs(rest[50:]), live) {
		t.Fatalf("after the crash: got %v", rowIDs(rest))
	}
}

// TestLostHistoryRecovery: a token the oplog no longer reaches is
// reported, counted and recovered from by a backfill from the last
// delivered event's createdAt, not from now.
func TestLostHistoryRecovery(t *testing.T) {
	d := newTestDB(t, replicaSetURI(t))
	ctx := testCtx(t, time.Minute)
	t0 := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Millisecond)
	before := d.insert(t, 5, "before", func(i int) time.Time { return t0.Add(-time.Duration(5-i) * 10 * time.Minute) })
	after := d.insert(t, 5, "after", func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) })

	// A token from long before the oplog's start: a real token's
	// KeyString with its cluster time moved to 1970.
	cs := nvsentinelWatch(t, d, nil)
	real, _ := cs.ResumeToken().Lookup("_data").StringValueOK()
	lost, err := bson.Marshal(bson.D{{Key: "_data", Value: "8200000001" + "00000001" + real[18:]}})
	if err != nil {
		t.Fatal(err)
	}
	if err := (tokens{coll: d.tokens, client: DefaultClientName}).save(ctx, Token{ResumeToken: lost, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	src := open(t, d.cfg)
	rows := collect(t, src, len(after), 30*time.Second)
	if !slices.Equal(rowIDs(rows), after) {
		t.Fatalf("recovered %v, want the events from the last delivered createdAt on %v (not %v)", rowIDs(rows), after, before)
	}
	if st := src.Stats(); st.Recoveries != 1 {
		t.Fatalf("stats after recovering from a lost token: %+v", st)
	}
	live := d.insert(t, 2, "live", now)
	if got := collect(t, src, 2, 30*time.Second); !slices.Equal(rowIDs(got), live) {
		t.Fatalf("after recovery: %v, want %v", rowIDs(got), live)
	}
}

// TestNoChangeStreams: Open fails and says a replica set is needed.
func TestNoChangeStreams(t *testing.T) {
	uri := servers(t)["nochangestreams"]
	if uri == "" {
		t.Skip(envNoChangeStreams + " is not set")
	}
	d := newTestDB(t, uri)
	_, err := Open(testCtx(t, 30*time.Second), d.cfg, zaptest.NewLogger(t))
	if !errors.Is(err, ErrNoChangeStreams) {
		t.Fatalf("Open: %v, want ErrNoChangeStreams", err)
	}
	t.Log(err)
}

// TestServerQueries runs the backfill's queries, the token documents and
// the lease against each server the environment names (FerretDB serves
// all of these, without change streams).
func TestServerQueries(t *testing.T) {
	for name, uri := range servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("backfill", func(t *testing.T) { testBackfillQueries(t, uri) })
			t.Run("tokens", func(t *testing.T) { testTokenDocuments(t, uri) })
			t.Run("leader", func(t *testing.T) { testLeaderFailover(t, uri) })
		})
	}
}

func testBackfillQueries(t *testing.T, uri string) {
	d := newTestDB(t, uri)
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	// Groups of 1 to 7 documents per createdAt, inserted in random _id order.
	var n int
	for g := range 40 {
		size := 1 + g%7
		d.insert(t, size, "g", func(int) time.Time { return start.Add(time.Duration(g) * time.Millisecond) })
		n += size
	}
	h := collHistory{coll: d.events}
	mem := &memHistory{}
	cur, err := d.events.Find(testCtx(t, 30*time.Second), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for cur.Next(context.Background()) {
		id, _ := cur.Current.Lookup("_id").ObjectIDOK()
		at, _ := cur.Current.Lookup("createdAt").TimeOK()
		mem.insert(at.UTC(), id)
	}
	if err := cur.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sorted := wantIDs(mem.sorted())
	if len(sorted) != n {
		t.Fatalf("%d documents, want %d", len(sorted), n)
	}
	for _, batch := range []int{3, 8, 50} {
		rows := drain(t, newTestBackfill(h, batch, plan(t, h, time.Time{}, 0)), 4)
		if !slices.Equal(rowIDs(rows), sorted) {
			t.Fatalf("batch %d: got %v\nwant %v", batch, rowIDs(rows), sorted)
		}
		if batch != 8 {
			continue
		}
		for i := 0; i < len(rows)-1; i += 17 {
			rest := drain(t, newTestBackfill(h, batch, rows[i].Token.Backfill), 100)
			if !slices.Equal(rowIDs(rest), sorted[i+1:]) {
				t.Fatalf("batch %d, resumed after row %d: got %d rows", batch, i, len(rest))
			}
		}
	}
	for _, limit := range []int64{1, 6, 25, int64(n) + 5} {
		rows := drain(t, newTestBackfill(h, 10, plan(t, h, time.Time{}, limit)), 10)
		if want := sorted[max(0, n-int(limit)):]; !slices.Equal(rowIDs(rows), want) {
			t.Fatalf("max events %d: got %v, want %v", limit, rowIDs(rows), want)
		}
	}
}

func testTokenDocuments(t *testing.T, uri string) {
	d := newTestDB(t, uri)
	ctx := testCtx(t, 30*time.Second)
	tk := tokens{coll: d.tokens, client: DefaultClientName}
	if _, found, err := tk.load(ctx); found || err != nil {
		t.Fatalf("empty collection: found %v, %v", found, err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	oid := bson.NewObjectID()
	tok := Token{ResumeToken: sampleToken(t, sampleData), CreatedAt: at, Backfill: BackfillPosition{
		Active: true, Until: at, CreatedAt: at.Add(-time.Minute), ID: bson.RawValue{Type: bson.TypeObjectID, Value: oid[:]}, Count: 12, Limit: 50,
	}}
	for range 2 { // insert, then update in place
		if err := tk.save(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	st, found, err := tk.load(ctx)
	if err != nil || !found || !st.Fresh || !bytes.Equal(st.ResumeToken, tok.ResumeToken) || !st.CreatedAt.Equal(at) ||
		!st.Backfill.ID.Equal(tok.Backfill.ID) || st.Backfill.Count != 12 || st.Backfill.Limit != 50 {
		t.Fatalf("load: %+v, %v, %v", st, found, err)
	}
	// NVSentinel overwrites the token: ours is stale.
	newer := sampleToken(t, "8266A1B2D0000000012B")
	if _, err := d.tokens.UpdateOne(ctx, bson.M{"clientName": "event-exporter"}, bson.M{"$set": bson.M{"resumeToken": newer}},
		options.UpdateOne().SetUpsert(true)); err != nil {
		t.Fatal(err)
	}
	st, found, err = tk.load(ctx)
	if err != nil || !found || st.Fresh || !bytes.Equal(st.ResumeToken, newer) || st.Backfill.Active {
		t.Fatalf("after NVSentinel's update: %+v, %v, %v", st, found, err)
	}
	if n, _ := d.tokens.CountDocuments(ctx, bson.M{}); n != 1 {
		t.Errorf("%d token documents, want 1", n)
	}
}

// abandon stops renewing without giving the lease up: kill -9.
func (l *Leader) abandon() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done, l.holding = nil, nil, false
	client := l.client
	l.client = nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if client != nil {
		_ = client.Disconnect(context.Background())
	}
}

func testLeaderFailover(t *testing.T, uri string) {
	d := newTestDB(t, uri)
	lc := LeaderConfig{RenewInterval: 100 * time.Millisecond, LeaseDuration: 500 * time.Millisecond}
	newLeader := func(id string) *Leader {
		lc := lc
		lc.Identity = id
		l, err := NewLeader(d.cfg, lc, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Release(context.Background()) })
		return l
	}
	a, b := newLeader("a"), newLeader("b")
	ctx := testCtx(t, time.Minute)
	lostA, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err = b.Acquire(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second contender: %v, want still waiting while the leader renews", err)
	}
	select {
	case <-lostA:
		t.Fatal("the leader lost a lease it renews")
	default:
	}

	a.abandon()
	killed := time.Now()
	lostB, err := b.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(killed); took < lc.LeaseDuration-2*lc.RenewInterval || took > lc.LeaseDuration+5*lc.RenewInterval+time.Second {
		t.Errorf("takeover %v after the leader stopped, want about the lease duration %v", took, lc.LeaseDuration)
	}

	// Release hands over at once, and is not a loss.
	gotA := make(chan error, 1)
	go func() {
		_, err := a.Acquire(ctx)
		gotA <- err
	}()
	time.Sleep(3 * lc.RenewInterval)
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lostB:
		t.Fatal("Release reported as a loss")
	default:
	}
	select {
	case err := <-gotA:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(lc.LeaseDuration):
		t.Fatal("the lease was not taken over at once after Release")
	}
	var doc bson.M
	if err := d.tokens.FindOne(ctx, bson.M{"_id": LeaseID(DefaultClientName)}).Decode(&doc); err != nil || doc["holder"] != "a" {
		t.Errorf("lease document %v, %v", doc, err)
	}
}
