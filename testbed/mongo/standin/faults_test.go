package standin

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestHistoryLost: after the history is trimmed (an oplog that rolled
// over), resuming from an older token and reading on from an open cursor
// both fail with ChangeStreamHistoryLost (286), through the wire command
// a test in another process uses.
func TestHistoryLost(t *testing.T) {
	client := connectV2(t, shared.URI())
	ctx := testCtx(t, time.Minute)
	coll := newColl(t, client)
	cs, err := coll.Watch(ctx, mongo.Pipeline{})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close(ctx)
	behind, err := coll.Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetBatchSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer behind.Close(ctx)
	insertN(t, coll, 3, plain)
	ev := next(t, ctx, cs)
	next(t, ctx, cs)
	next(t, ctx, cs)
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "courierTrimHistory", Value: 1}}).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = coll.Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetResumeAfter(ev.ID))
	if !isCode(err, 286) {
		t.Fatalf("resume from before the trim: %v, want ChangeStreamHistoryLost (286)", err)
	}
	_, err = coll.Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetStartAtOperationTime(&ev.ClusterTime))
	if !isCode(err, 286) {
		t.Fatalf("start at an operation time before the trim: %v, want 286", err)
	}
	// A cursor that had not read the trimmed events fails with 286 (not
	// resumable); one that had read them all goes on.
	if behind.Next(ctx) {
		t.Fatalf("read on after the history was lost: %v", behind.Current)
	}
	if !isCode(behind.Err(), 286) {
		t.Fatalf("open stream behind the trim: %v, want 286", behind.Err())
	}
	more := insertN(t, coll, 1, plain)
	if got := readIDs(t, ctx, cs, 1); !slices.Equal(got, more) {
		t.Fatalf("caught-up stream after the trim: %v, want %v", got, more)
	}
	// A stream opened now works.
	fresh, err := coll.Watch(ctx, mongo.Pipeline{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close(ctx)
	ids := insertN(t, coll, 2, plain)
	if got := readIDs(t, ctx, fresh, 2); !slices.Equal(got, ids) {
		t.Fatalf("after the trim: %v, want %v", got, ids)
	}
}

func isCode(err error, code int) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(code)
}

// TestDriverResumes: a connection dropped in the middle of a getMore and a
// primary step-down error (ResumableChangeStreamError) are resumed from by
// the driver itself; no event is lost or repeated.
func TestDriverResumes(t *testing.T) {
	for _, name := range []string{"dropGetMore", "stepDown"} {
		t.Run(name, func(t *testing.T) {
			s := startOwn(t, Options{})
			client := connectV2(t, s.URI())
			ctx := testCtx(t, time.Minute)
			coll := newColl(t, client)
			cs, err := coll.Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetBatchSize(5))
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close(ctx)
			ids := insertN(t, coll, 20, plain)
			got := readIDs(t, ctx, cs, 7)
			// The wire command, as another process would arm it.
			if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "courierFault", Value: name}, {Key: "times", Value: 2}}).Err(); err != nil {
				t.Fatal(err)
			}
			got = append(got, readIDs(t, ctx, cs, 13)...)
			if !slices.Equal(got, ids) {
				t.Fatalf("got %v\nwant %v", got, ids)
			}
			if s.faults.left != 0 {
				t.Fatalf("%d faults not met: the driver did not run into them", s.faults.left)
			}
		})
	}
}

// startOwn starts a stand-in of the test's own, over a fresh database.
func startOwn(t *testing.T, o Options) *Server {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	if o.Postgres == "" {
		dsn, err := newDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		o.Postgres = dsn
	}
	if o.Logs == nil {
		if f := testLogs(); f != nil {
			o.Logs = f
		}
	}
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestRestartOnSameData: the stand-in stopped and started again on the
// same PostgreSQL and address while a client reads; the driver resumes,
// and the history written before, during and after is all there.
func TestRestartOnSameData(t *testing.T) {
	first := startOwn(t, Options{})
	client := connectV2(t, first.URI())
	ctx := testCtx(t, 2*time.Minute)
	coll := newColl(t, client)
	cs, err := coll.Watch(ctx, mongo.Pipeline{})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close(ctx)
	ids := insertN(t, coll, 5, plain)
	got := readIDs(t, ctx, cs, 3)
	first.Close()

	second := startOwn(t, Options{Postgres: first.DSN(), Addr: first.Addr()})
	if second.Addr() != first.Addr() {
		t.Fatalf("restarted on %s, not %s", second.Addr(), first.Addr())
	}
	ids = append(ids, insertN(t, coll, 5, plain)...)
	got = append(got, readIDs(t, ctx, cs, 7)...)
	if !slices.Equal(got, ids) {
		t.Fatalf("got %v\nwant %v", got, ids)
	}
	n, err := coll.CountDocuments(ctx, bson.D{})
	if err != nil || n != 10 {
		t.Fatalf("%d documents after the restart (%v), want 10", n, err)
	}
}
