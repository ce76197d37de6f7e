package arc

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLimiterBoundsAndHandsOverInOrder(t *testing.T) {
	l := NewLimiter(Config{Max: 8, Initial: 2, RTTTolerance: 2, DecreaseRatio: 0.9, MinWindow: time.Hour})
	ctx := context.Background()
	var held []Ticket
	for range 2 {
		tk, err := l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tk)
	}
	got := make(chan int, 3)
	for i := range 3 {
		go func() {
			_, _ = l.Acquire(ctx)
			got <- i
		}()
		waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.waiters) == i+1 })
	}
	select {
	case i := <-got:
		t.Fatalf("waiter %d admitted over the limit", i)
	case <-time.After(20 * time.Millisecond):
	}
	for want := range 3 {
		l.Release(held[0], Sample{RTT: time.Millisecond, Outcome: Answered})
		if i := <-got; i != want {
			t.Fatalf("admitted waiter %d, want %d (first come, first served)", i, want)
		}
	}
	if s := l.Stats(); s.InFlight != 2 || s.Limit != 2 {
		t.Fatalf("stats %+v, want 2 in flight, limit 2", s)
	}
}

func TestLimiterAcquireCancelled(t *testing.T) {
	l := NewLimiter(Config{Max: 1, Initial: 1})
	tk, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire: %v, want the context's error", err)
	}
	l.Release(tk, Sample{Outcome: Unknown})
	if s := l.Stats(); s.InFlight != 0 || len(l.waiters) != 0 {
		t.Fatalf("stats %+v, %d waiters: a cancelled wait must hold nothing", s, len(l.waiters))
	}
	if _, err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
