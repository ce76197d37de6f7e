package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// TestDeadLetterReplay is README "After a sink outage" on the built
// binary: events dead-lettered while the sink refused them (503 until the
// retries ran out: retries_exhausted; one poison event answered 400:
// rejected), the sink fixed, the dead_letter receiver replaying the
// retries_exhausted ones, killed with SIGKILL in the middle of the replay
// and started again: every event arrives, the poison one stays in the
// replayed file, the files are moved to replayed/ and nothing is
// dead-lettered again.
func TestDeadLetterReplay(t *testing.T) {
	const events = 1000
	logDir, deadDir, replayDead, storageDir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	// A poison event the sink refuses (400) whatever happens.
	poisonSet := map[string]bool{}
	writeEvents(t, structuredlog.Options{Dir: logDir, Name: "poison.log", Source: "e2e@replay"}, "p", 1, poisonSet)
	var poison string
	for id := range poisonSet {
		poison = id
	}
	sink := newLinesSink(t)
	sink.reject = poisonSet
	src := startHealthy(t, deliveryTimeout, []string{
		"COURIER_E2E_LOG_DIR=" + logDir, "COURIER_E2E_SINK_URL=" + sink.URL, "COURIER_E2E_DEAD_LETTER_DIR=" + deadDir,
	}, "--config=testdata/deadletter_source.yaml")
	src.WaitUntil(deliveryTimeout, "the poison event dead-lettered", func() error {
		if n := len(deadLetters(t, deadDir)); n != 1 {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})

	// The outage: the sink answers 503 and the retries run out.
	sink.refuse.Store(http.StatusServiceUnavailable)
	want := map[string]bool{}
	writeEvents(t, structuredlog.Options{Dir: logDir, Name: "app.log", Source: "e2e@replay"}, "r", events-1, want)
	src.WaitUntil(2*deliveryTimeout, "every event dead-lettered", func() error {
		if n := len(deadLetters(t, deadDir)); n != events {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})
	if err := src.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	byReason := map[string]int{}
	for _, r := range deadLetters(t, deadDir) {
		byReason[r.Reason]++
		if r.Reason == "rejected" && r.Event.ID != poison {
			t.Fatalf("event %s rejected, want only the poison event %s", r.Event.ID, poison)
		}
	}
	if byReason["retries_exhausted"] != events-1 || byReason["rejected"] != 1 || sink.distinct() != 0 {
		t.Fatalf("dead letters by reason %v, %d delivered", byReason, sink.distinct())
	}

	// The sink is fixed (slow, so that the replay can be killed midway).
	sink = newLinesSink(t) // the same sink, restarted after its fix
	sink.delay = 50 * time.Millisecond
	env := []string{
		"COURIER_E2E_SINK_URL=" + sink.URL, "COURIER_E2E_DEAD_LETTER_DIR=" + deadDir,
		"COURIER_E2E_REPLAY_DEAD_LETTER_DIR=" + replayDead, "COURIER_E2E_STORAGE_DIR=" + storageDir,
	}
	replay := startHealthy(t, deliveryTimeout, env, "--config=testdata/deadletter_replay.yaml")
	replay.WaitUntil(2*deliveryTimeout, "part of the replay delivered", func() error {
		if n := sink.distinct(); n < events/4 {
			return fmt.Errorf("%d delivered", n)
		}
		return nil
	})
	replay.Kill()
	atKill := sink.distinct()
	replay = startHealthy(t, deliveryTimeout, env, "--config=testdata/deadletter_replay.yaml")
	replay.WaitUntil(2*deliveryTimeout, "every retries_exhausted event delivered", func() error { return sink.check(want) })
	replay.WaitUntil(deliveryTimeout, "the dead-letter files moved to replayed/", func() error {
		if left, _ := filepath.Glob(filepath.Join(deadDir, "*.jsonl")); len(left) != 0 {
			return fmt.Errorf("files left: %v", left)
		}
		return nil
	})
	if err := replay.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	dups := sink.duplicates()
	t.Logf("replayed %d events, killed after %d, %d duplicates", sink.distinct(), atKill, dups)
	if sink.line(poison) != nil {
		t.Fatal("the rejected event was replayed")
	}
	// Duplicates: at most the batch in flight at the kill (max_batch_events).
	if dups > 20 {
		t.Fatalf("%d duplicates, more than the one batch in flight at the kill", dups)
	}
	if recs := deadLetters(t, replayDead); len(recs) != 0 {
		t.Fatalf("%d events dead-lettered again by the replay", len(recs))
	}
	moved := deadLetters(t, filepath.Join(deadDir, "replayed"))
	if len(moved) != events {
		t.Fatalf("%d records in replayed/, want all %d (the poison one too)", len(moved), events)
	}
	if _, err := os.Stat(filepath.Join(deadDir, "replayed")); err != nil {
		t.Fatal(err)
	}
}
