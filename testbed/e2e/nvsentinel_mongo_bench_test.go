package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/courier-otel/courier/internal/testutil"
)

// mongoBench runs testdata/nvsentinel_mongo_bench.yaml against
// courier-mongo. Events are written as FerretDB stores them, straight into
// its PostgreSQL table in one transaction (or one per event for the
// latency run): "committed at once", as the PostgreSQL rows do, since
// FerretDB's own insert path (~2,600 documents/s here) would otherwise be
// what is measured. The changelog triggers record them as any insert.
type mongoBench struct {
	m    *mongoStandIn
	pg   *pgx.Conn
	env  []string
	docs map[string]string // database → its HealthEvents table, with the template document
}

func newMongoBench(b *testing.B) *mongoBench {
	m := startMongoStandIn(b)
	e := &mongoBench{m: m, docs: map[string]string{}}
	var err error
	if e.pg, err = pgx.Connect(context.Background(), m.dsn); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.pg.Close(context.Background()) })
	tokens := newTokenServer(b)
	secret := b.TempDir() + "/oidc-client-secret"
	if err := os.WriteFile(secret, []byte(nvClientSecret+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	e.env = []string{
		"COURIER_E2E_MONGODB_URI=" + m.URI,
		"COURIER_E2E_MONGODB_CA=" + m.CAFile,
		"COURIER_E2E_MONGODB_CERT=" + m.CertFile,
		"COURIER_E2E_MONGODB_KEY=" + m.KeyFile,
		"COURIER_E2E_TOKEN_URL=" + tokens.url,
		"COURIER_E2E_SECRET_FILE=" + secret,
	}
	return e
}

// database creates a database with an empty HealthEvents collection and
// returns its name; template is a health event document as FerretDB
// stored it.
func (e *mongoBench) database(b *testing.B) (name, table, template string) {
	b.Helper()
	name = fmt.Sprintf("bench_%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := e.m.client(b).Database(name)
	if err := db.CreateCollection(ctx, "HealthEvents"); err != nil {
		b.Fatal(err)
	}
	// NVSentinel's setup job (charts/mongodb-store, jobs.yaml) creates the
	// collection with its one index, createdAt's TTL of 30 days, before any
	// event: courier-mongo builds the index its backfill finds read then,
	// as MongoDB does, and it is maintained as the history is inserted.
	idx := mongo.IndexModel{Keys: bson.D{{Key: "createdAt", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(2592000)}
	_, err := db.Collection("HealthEvents").Indexes().CreateOne(ctx, idx)
	if se := (mongo.ServerError)(nil); errors.As(err, &se) && se.HasErrorCode(238) { // NotImplemented: FerretDB without TTL
		idx.Options = nil
		_, err = db.Collection("HealthEvents").Indexes().CreateOne(ctx, idx)
	}
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Collection("Template").InsertOne(ctx, nvMongoDoc(bson.NewObjectID(), "bench", time.Now())); err != nil {
		b.Fatal(err)
	}
	meta := pgx.Identifier{name, "_ferretdb_database_metadata"}.Sanitize()
	var tmplTable string
	if err := e.pg.QueryRow(ctx, `SELECT _jsonb->>'table' FROM `+meta+` WHERE _jsonb->>'_id' = 'HealthEvents'`).Scan(&table); err != nil {
		b.Fatal(err)
	}
	if err := e.pg.QueryRow(ctx, `SELECT _jsonb->>'table' FROM `+meta+` WHERE _jsonb->>'_id' = 'Template'`).Scan(&tmplTable); err != nil {
		b.Fatal(err)
	}
	if err := e.pg.QueryRow(ctx, `SELECT _jsonb::text FROM `+pgx.Identifier{name, tmplTable}.Sanitize()).Scan(&template); err != nil {
		b.Fatal(err)
	}
	return name, pgx.Identifier{name, table}.Sanitize(), template
}

// insertSQL inserts n events in one transaction: ids prefix + 16 hex
// digits of first+i, createdAt from at in steps of step.
const insertSQL = `INSERT INTO %s (_jsonb)
SELECT jsonb_set(jsonb_set(jsonb_set($1::jsonb,
	'{_id}', to_jsonb($2 || lpad(to_hex(i), 16, '0'))),
	'{createdAt}', to_jsonb($3::bigint + (i - $4) * $5)),
	'{healthevent,nodename}', to_jsonb('bench-' || i))
FROM generate_series($4::bigint, $4::bigint + $6 - 1) AS i`

func (e *mongoBench) insert(b *testing.B, table, template, prefix string, first, n int64, at time.Time, step time.Duration) {
	b.Helper()
	if _, err := e.pg.Exec(context.Background(), fmt.Sprintf(insertSQL, table), template, prefix, at.UnixMilli(), first, step.Milliseconds(), n); err != nil {
		b.Fatal(err)
	}
}

func (e *mongoBench) start(b *testing.B, sinkURL, database string, args ...string) *testutil.Collector {
	return startHealthy(b, time.Minute, append(slices.Clone(e.env),
		"COURIER_E2E_SINK_URL="+sinkURL,
		"COURIER_E2E_MONGODB_DATABASE="+database,
		"COURIER_E2E_CLIENT_NAME=bench",
	), append([]string{"--config=testdata/nvsentinel_mongo_bench.yaml"}, args...)...)
}

// BenchmarkNVSentinelMongoDB is BenchmarkNVSentinelPipeline on MongoDB,
// through courier-mongo over TLS with X.509 (DESIGN.md §6's MongoDB row):
//
//   - live/structured, live/batch: 100,000 events committed at once while
//     the collector runs; events/s from the commit to the last delivery.
//   - latency: events committed one per transaction at 1,000/s for 10 s;
//     commit → sink latency percentiles.
//   - backfill: 1,000,000 stored events (COURIER_BENCH_MONGO_BACKFILL
//     changes the number), no token, no rate limit; time from the
//     collector's start to the last delivery, in CloudEvents batches.
func BenchmarkNVSentinelMongoDB(b *testing.B) {
	for _, encoding := range []string{"structured", "batch"} {
		b.Run("live/"+encoding, func(b *testing.B) {
			const events = 100_000
			e := newMongoBench(b)
			sink := newNVBenchSink(b, false)
			var elapsed, cpu time.Duration
			for b.Loop() {
				db, table, tmpl := e.database(b)
				c := e.start(b, sink.URL, db, "--set=exporters::cloudevents::encoding="+encoding)
				time.Sleep(500 * time.Millisecond) // the receiver has opened its stream
				sink.events.Store(0)
				e.insert(b, table, tmpl, "6b000000", 1, events, time.Now(), 0)
				before, start := cpuTime(b, c.Pid()), time.Now()
				c.WaitUntil(5*time.Minute, "every event delivered", func() error { return atLeast(sink.events.Load(), events) })
				elapsed += time.Since(start)
				cpu += cpuTime(b, c.Pid()) - before
				stopBench(b, c)
			}
			b.ReportMetric(float64(events*b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(events*b.N), "cpu-µs/event")
		})
	}
	b.Run("latency", func(b *testing.B) {
		const rate, seconds = 1000, 10
		e := newMongoBench(b)
		sink := newNVBenchSink(b, true)
		var lat []time.Duration
		for b.Loop() {
			db, table, tmpl := e.database(b)
			c := e.start(b, sink.URL, db)
			time.Sleep(500 * time.Millisecond)
			inserted := map[string]time.Time{}
			tick := time.NewTicker(time.Second / rate)
			for i := range int64(rate * seconds) {
				<-tick.C
				at := time.Now()
				e.insert(b, table, tmpl, "6b000001", i, 1, at, 0)
				inserted[fmt.Sprintf("6b000001%016x", i)] = at
			}
			tick.Stop()
			lat = append(lat, sink.latencies(c, inserted)...)
			stopBench(b, c)
		}
		reportLatency(b, lat)
	})
	b.Run("backfill", func(b *testing.B) {
		// courier-mongo answers the receiver's backfill finds by SQL over
		// an index on createdAt (testbed/mongo/sqlfind), so each page costs
		// the same whatever the history's size. COURIER_BENCH_MONGO_BACKFILL
		// gives another history size.
		events := int64(historyEvents)
		if v := os.Getenv("COURIER_BENCH_MONGO_BACKFILL"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				b.Fatalf("COURIER_BENCH_MONGO_BACKFILL=%q: want a number of events", v)
			}
			events = int64(n)
		}
		e := newMongoBench(b)
		sink := newNVBenchSink(b, false)
		var elapsed, cpu time.Duration
		for b.Loop() {
			db, table, tmpl := e.database(b)
			// Spread over the last day, within max_age.
			e.insert(b, table, tmpl, "6b000002", 1, events, time.Now().Add(-24*time.Hour), 24*time.Hour/time.Duration(events))
			// A history that built up over a day has long been vacuumed by
			// autovacuum in courier-mongo's PostgreSQL: rows committed just
			// now would make the backfill's first read of each set its hint
			// bits (~11 s for 1,000,000 rows), a cost of the stand-in's
			// storage that MongoDB does not have.
			if _, err := e.pg.Exec(context.Background(), `VACUUM (ANALYZE) `+table); err != nil {
				b.Fatal(err)
			}
			sink.events.Store(0)
			start := time.Now()
			c := e.start(b, sink.URL, db, "--set=exporters::cloudevents::encoding=batch")
			c.WaitUntil(15*time.Minute, "the whole history delivered", func() error { return atLeast(sink.events.Load(), events) })
			elapsed += time.Since(start)
			cpu += cpuTime(b, c.Pid())
			stopBench(b, c)
		}
		b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/backfill")
		b.ReportMetric(float64(events*int64(b.N))/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(events*int64(b.N)), "cpu-µs/event")
	})
}
