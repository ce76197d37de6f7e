package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func newLeader(t *testing.T, dsn string) *Leader {
	t.Helper()
	l, err := NewLeader(Config{DSN: dsn}, 200*time.Millisecond, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

// TestLeaderFailover: of two contenders exactly one leads; when the
// leader's session is terminated it learns it has lost, and the other
// takes over within a few retry intervals.
func TestLeaderFailover(t *testing.T) {
	dsn := srv.NewDB(t)
	a, b := newLeader(t, dsn), newLeader(t, dsn)
	ctx := testCtx(t, time.Minute)

	lostA, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	_, err = b.Acquire(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second contender: %v, want to be still waiting", err)
	}

	type result struct {
		lost <-chan struct{}
		err  error
	}
	gotB := make(chan result, 1)
	go func() {
		lost, err := b.Acquire(ctx)
		gotB <- result{lost, err}
	}()

	conn := connect(t, dsn)
	tag, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the leader's session: %v (%d rows)", err, tag.RowsAffected())
	}
	select {
	case <-lostA:
	case <-time.After(5 * time.Second):
		t.Fatal("the old leader did not notice it lost its session")
	}
	var lostB <-chan struct{}
	select {
	case r := <-gotB:
		if r.err != nil {
			t.Fatal(r.err)
		}
		lostB = r.lost
	case <-time.After(5 * time.Second):
		t.Fatal("the standby did not take over")
	}

	// Handing over on purpose: Release, and the other takes it.
	gotA := make(chan error, 1)
	go func() {
		_, err := a.Acquire(ctx)
		gotA <- err
	}()
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
	case <-time.After(5 * time.Second):
		t.Fatal("the lock was not taken over after Release")
	}
}

func TestLockKey(t *testing.T) {
	if LockKey("event-exporter") == LockKey("event-exporter-2") {
		t.Error("different client names share a lock key")
	}
	// The key must never change: replicas of different versions (a
	// rolling update) must contend for the same lock.
	if got := LockKey("event-exporter"); got != 7427342737763946881 {
		t.Errorf("lock key of event-exporter is %d, was 7427342737763946881", got)
	}
}
