package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/courier-otel/courier/internal/testutil"
)

// nvWatchEvent is one event nvwatch read.
type nvWatchEvent struct {
	ID   string `json:"id"`
	Node string `json:"node"`
}

// buildNVWatch builds testbed/mongo's nvwatch: NVSentinel's exporter's
// change-stream side on driver v1, which lives in that module so that the
// distribution's module graph keeps driver v2 only.
func buildNVWatch(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nvwatch")
	cmd := exec.Command("go", "-C", filepath.Join(testutil.ModuleRoot(t), "testbed", "mongo"), "build", "-o", bin, "./nvwatch")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building nvwatch: %v\n%s", err, out)
	}
	return bin
}

// nvWatch runs nvwatch as NVSentinel's event-exporter (its token
// collection and clientName, as its chart sets them) until it has read n
// events, calling opened once its change stream is open; it returns them
// in the order read and whether it resumed from a stored token.
func (e *mongoNV) nvWatch(t *testing.T, bin string, n int, opened func()) (events []nvWatchEvent, resumed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-uri", e.m.URI, "-tls-ca", e.m.CAFile, "-tls-cert", e.m.CertFile, "-tls-key", e.m.KeyFile,
		"-database", "nvsentinel", "-collection", "HealthEvents", "-token-collection", "ResumeTokens", "-client-name", "event-exporter",
		"-events", fmt.Sprint(n), "-timeout", "2m")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		_ = cmd.Wait()
		t.Fatalf("nvwatch opened no change stream: %s", stderr.String())
	}
	var head struct{ Watching, Resumed bool }
	if err := json.Unmarshal(lines.Bytes(), &head); err != nil || !head.Watching {
		t.Fatalf("nvwatch's first line %q: %v", lines.Text(), err)
	}
	if opened != nil {
		opened()
	}
	for lines.Scan() {
		var ev nvWatchEvent
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("nvwatch line %q: %v", lines.Text(), err)
		}
		events = append(events, ev)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("nvwatch: %v (read %d of %d events)\n%s", err, len(events), n, stderr.String())
	}
	return events, head.Resumed
}

// insertNV inserts n events one at a time, as NVSentinel's platform
// connectors do, and returns them in insert order.
func (e *mongoNV) insertNV(t *testing.T, prefix string, n int) []nvWatchEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var evs []nvWatchEvent
	for i := range n {
		id, node := bson.NewObjectID(), fmt.Sprintf("%s-%d", prefix, i)
		if _, err := e.coll.InsertOne(ctx, nvMongoDoc(id, node, time.Now())); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, nvWatchEvent{ID: id.Hex(), Node: node})
	}
	return evs
}

// nvMap is id → node of evs.
func nvMap(evs ...[]nvWatchEvent) map[string]string {
	m := map[string]string{}
	for _, es := range evs {
		for _, ev := range es {
			m[ev.ID] = ev.Node
		}
	}
	return m
}

// notDelivered fails the test for each event of evs the sink received.
func (e *mongoNV) notDelivered(t *testing.T, evs []nvWatchEvent, why string) {
	t.Helper()
	e.sink.mu.Lock()
	defer e.sink.mu.Unlock()
	n := 0
	for _, ev := range evs {
		if e.sink.count[ev.ID] > 0 {
			n++
		}
	}
	if n > 0 {
		t.Errorf("Courier delivered %d of the %d events %s", n, len(evs), why)
	}
}

// resumedFromNVSentinel checks that the receiver said it continued from
// another exporter's token, and started no backfill.
func (e *mongoNV) resumedFromNVSentinel(t *testing.T, c *testutil.Collector) {
	t.Helper()
	out := c.Output()
	if !strings.Contains(out, "Resuming from a resume token written by another exporter") {
		t.Errorf("the receiver did not say it resumed from NVSentinel's token:\n%s", out)
	}
	if strings.Contains(out, "Backfill started") {
		t.Errorf("a backfill ran although NVSentinel's token was there:\n%s", out)
	}
}

// TestNVSentinelMongoDBTokenExchange: the resume token passes from
// NVSentinel's exporter to Courier and back, on the built binary, through
// courier-mongo over TLS with an X.509 client certificate (issue 17: "a
// resume token written by NVSentinel's exporter continued from, and a
// token Courier wrote that NVSentinel's format reads").
//
// NVSentinel's side is testbed/mongo's nvwatch: driver v1 as its
// store-client's ChangeStreamWatcher uses it (inserts pipeline,
// fullDocument updateLookup, resumeAfter from {clientName:
// "event-exporter"} in ResumeTokens, MarkProcessed's $set upsert after each
// event). Courier runs testdata/nvsentinel_mongo.yaml unchanged: database,
// token_collection and client_name are left at their defaults, nvsentinel,
// ResumeTokens and event-exporter, which is what `courier-config
// nvsentinel` writes for NVSentinel's chart (MONGODB_TOKEN_COLLECTION_NAME
// of its mongodb-config is ResumeTokens; the exporter's clientName is
// event-exporter, not configurable).
//
//  1. NVSentinel watches, N events are inserted, it exports the first K
//     (writing its token after each) and stops.
//  2. Courier starts with a backfill enabled, finds NVSentinel's token,
//     so runs no backfill, and exports exactly events K+1..N and the live
//     inserts made while it runs, each once and as SPEC.md A.3 says; SIGTERM.
//  3. More events are inserted while Courier is down; a fresh NVSentinel
//     watcher resumes from the token Courier left and reads exactly those,
//     in order: nothing Courier delivered again, nothing skipped.
//  4. Courier again, after NVSentinel's $set moved the token past the
//     progress Courier's own member of the document describes: it follows
//     NVSentinel's token, exporting none of what NVSentinel read in 3 and
//     every event inserted since.
func TestNVSentinelMongoDBTokenExchange(t *testing.T) {
	const n, k, live, down, after = 40, 15, 60, 12, 20
	e := newMongoNV(t)
	nvwatch := buildNVWatch(t)
	// The collections NVSentinel's MongoDB setup job creates.
	db := e.coll.Database()
	for _, name := range []string{"HealthEvents", "ResumeTokens"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := db.CreateCollection(ctx, name)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	// 1. NVSentinel's exporter, first deployment: no token, watches from
	// now; N events come, it exports K and is stopped.
	var first []nvWatchEvent
	read, resumed := e.nvWatch(t, nvwatch, k, func() { first = e.insertNV(t, "first", n) })
	if resumed {
		t.Fatal("NVSentinel's watcher found a token before any was written")
	}
	if !slices.Equal(read, first[:k]) {
		t.Fatalf("NVSentinel's watcher read %v, want the first %d inserted: %v", read, k, first[:k])
	}

	// 2. Courier continues from NVSentinel's token.
	c := e.start(t)
	rest := first[k:]
	e.waitDelivered(c, len(rest))
	liveEvs := make([]nvWatchEvent, 0, live)
	for range live / 10 {
		liveEvs = append(liveEvs, e.insertNV(t, "live", 10)...)
		time.Sleep(100 * time.Millisecond) // spread over the stream's batches
	}
	want := nvMap(rest, liveEvs)
	if dups := e.check(t, c, want, nil, maxInFlight); dups != 0 {
		t.Errorf("%d duplicates without any crash", dups)
	}
	e.notDelivered(t, first[:k], "NVSentinel had exported before Courier took over")
	e.resumedFromNVSentinel(t, c)
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	var tokenDoc bson.M
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := db.Collection("ResumeTokens").FindOne(ctx, bson.D{{Key: "clientName", Value: "event-exporter"}}).Decode(&tokenDoc); err != nil {
		t.Fatal(err)
	}
	t.Logf("the token document Courier left: %v", tokenDoc)

	// 3. NVSentinel's exporter again, from Courier's token.
	downEvs := e.insertNV(t, "down", down)
	read, resumed = e.nvWatch(t, nvwatch, down, nil)
	if !resumed {
		t.Fatal("NVSentinel's watcher found no token where Courier writes it")
	}
	if !slices.Equal(read, downEvs) {
		t.Fatalf("NVSentinel's watcher, from Courier's token, read %v\nwant exactly the %d events inserted after Courier stopped: %v",
			read, down, downEvs)
	}

	// 4. Courier again, from NVSentinel's token written over its own.
	c = e.start(t)
	afterEvs := e.insertNV(t, "after", after)
	for id, node := range nvMap(afterEvs) {
		want[id] = node
	}
	if dups := e.check(t, c, want, nil, maxInFlight); dups != 0 {
		t.Errorf("%d duplicates without any crash", dups)
	}
	e.resumedFromNVSentinel(t, c)
	e.notDelivered(t, downEvs, "NVSentinel had exported while Courier was down")
	e.notDelivered(t, first[:k], "NVSentinel had exported before Courier took over")
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	t.Logf("NVSentinel %d, Courier %d (%d + %d live), NVSentinel %d, Courier %d: each event exported once, by one of them",
		k, n-k+live, n-k, live, down, after)
}
