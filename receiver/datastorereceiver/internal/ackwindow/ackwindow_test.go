package ackwindow

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func add(t *testing.T, w *Window[string], n int, token string) Seq {
	t.Helper()
	s, err := w.Add(context.Background(), n, token)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ack(t *testing.T, w *Window[string], s Seq, wantToken string, wantAdvanced bool) {
	t.Helper()
	token, advanced := w.Ack(s)
	if token != wantToken || advanced != wantAdvanced {
		t.Fatalf("Ack(%d) = %q, %v; want %q, %v", s, token, advanced, wantToken, wantAdvanced)
	}
}

// TestOutOfOrder: the checkpoint is the token of the last batch of the
// contiguous acknowledged prefix, whatever order the acks come in.
func TestOutOfOrder(t *testing.T) {
	w := New[string](100)
	if _, _, ok := w.Checkpoint(); ok {
		t.Fatal("Checkpoint of a new window")
	}
	b1, b2, b3, b4 := add(t, w, 3, "c3"), add(t, w, 2, "c5"), add(t, w, 4, "c9"), add(t, w, 1, "c10")
	ack(t, w, b3, "", false) // batch 3 done before 1 and 2: nothing to write yet
	ack(t, w, b2, "", false)
	if got := w.InFlight(); got != 10 {
		t.Fatalf("InFlight = %d, want 10: acknowledged batches count until they leave", got)
	}
	ack(t, w, b1, "c9", true) // 1, 2, 3 leave together
	if token, s, ok := w.Checkpoint(); token != "c9" || s != b3 || !ok {
		t.Fatalf("Checkpoint = %q, %d, %v; want c9, %d, true", token, s, ok, b3)
	}
	if got := w.InFlight(); got != 1 {
		t.Fatalf("InFlight = %d, want 1", got)
	}
	ack(t, w, b3, "", false) // twice, or after it left: nothing
	ack(t, w, b4, "c10", true)
	ack(t, w, b4, "", false)
	ack(t, w, b4+1, "", false) // never added
	if got := w.InFlight(); got != 0 {
		t.Fatalf("InFlight = %d, want 0", got)
	}
	// Sequence numbers go on after the window empties.
	b5 := add(t, w, 1, "c11")
	if b5 != b4+1 {
		t.Fatalf("next Seq = %d, want %d", b5, b4+1)
	}
	ack(t, w, b5, "c11", true)
}

// TestFailedBatchHoldsBack: a refused batch stays in the window while it is
// retried, holding back the checkpoint, until a retry succeeds.
func TestFailedBatchHoldsBack(t *testing.T) {
	w := New[int](10)
	b1, b2, b3 := add2(t, w, 2, 1), add2(t, w, 2, 2), add2(t, w, 2, 3)
	if tok, ok := w.Ack(b1); tok != 1 || !ok {
		t.Fatalf("Ack(b1) = %d, %v", tok, ok)
	}
	// b2's ConsumeLogs fails; b3's succeeds.
	if _, ok := w.Ack(b3); ok {
		t.Fatal("checkpoint moved past a failed batch")
	}
	// The retry of b2 succeeds.
	if tok, ok := w.Ack(b2); tok != 3 || !ok {
		t.Fatalf("Ack(b2) = %d, %v; want 3, true", tok, ok)
	}
}

func add2(t *testing.T, w *Window[int], n, token int) Seq {
	t.Helper()
	s, err := w.Add(context.Background(), n, token)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBound: Add blocks while the batch does not fit and goes on when
// acknowledgements make room.
func TestBound(t *testing.T) {
	w := New[string](10)
	b1 := add(t, w, 6, "a")
	b2 := add(t, w, 4, "b")

	done := make(chan Seq)
	go func() {
		s, err := w.Add(context.Background(), 5, "c")
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	select {
	case <-done:
		t.Fatal("Add returned with the window full")
	case <-time.After(50 * time.Millisecond):
	}
	ack(t, w, b2, "", false) // acknowledged out of order: b1 still holds the room
	select {
	case <-done:
		t.Fatal("Add returned before the events left the window")
	case <-time.After(50 * time.Millisecond):
	}
	ack(t, w, b1, "b", true)
	select {
	case s := <-done:
		ack(t, w, s, "c", true)
	case <-time.After(10 * time.Second):
		t.Fatal("Add still blocked after the window emptied")
	}
}

// TestOversizedAndEmptyBatches: a batch larger than the window enters an
// empty one; a batch of no events takes the room of one.
func TestOversizedAndEmptyBatches(t *testing.T) {
	w := New[string](4)
	big := add(t, w, 9, "big")
	if got := w.InFlight(); got != 9 {
		t.Fatalf("InFlight = %d", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := w.Add(ctx, 0, "skip"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add into a full window: %v", err)
	}
	ack(t, w, big, "big", true)
	var seqs []Seq
	for i := range 4 {
		seqs = append(seqs, add(t, w, 0, string(rune('a'+i))))
	}
	if got := w.InFlight(); got != 4 {
		t.Fatalf("InFlight = %d, want 4", got)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := w.Add(ctx2, 0, "e"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("fifth empty batch: %v", err)
	}
	for _, s := range seqs[1:] {
		ack(t, w, s, "", false)
	}
	ack(t, w, seqs[0], "d", true)
	if _, err := w.Add(context.Background(), -1, "x"); err == nil {
		t.Fatal("negative batch accepted")
	}
}

func TestCancelWhileBlocked(t *testing.T) {
	w := New[string](1)
	b1 := add(t, w, 1, "a")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := w.Add(ctx, 1, "b")
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Add = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Add did not return on cancel")
	}
	// The cancelled batch never entered: acknowledging b1 empties the window.
	ack(t, w, b1, "a", true)
	if got := w.InFlight(); got != 0 {
		t.Fatalf("InFlight = %d", got)
	}
	// A done context is refused even when there is room.
	if _, err := w.Add(ctx, 1, "c"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with a done context = %v", err)
	}
}

// TestConcurrent: one producer adds batches in order, many workers
// acknowledge them in random order and a writer follows Checkpoint, as the
// receiver does. Every token reported, by Ack or Checkpoint, is one whose
// batch and all batches before it were acknowledged; Checkpoint only moves
// forward and ends at the last batch; the window never holds more than its
// bound. Run with -race.
func TestConcurrent(t *testing.T) {
	const (
		batches = 5000
		workers = 16
		bound   = 64
	)
	w := New[int](bound) // token: the batch's index
	type batch struct {
		seq   Seq
		index int
	}
	work := make(chan batch, batches)
	acked := make([]atomic.Bool, batches)
	prefixAcked := func(index int) bool {
		for i := index; i >= 0; i-- {
			if !acked[i].Load() {
				return false
			}
		}
		return true
	}

	kick := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				if rand.IntN(4) == 0 {
					time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond) // a slow ConsumeLogs
				}
				acked[b.index].Store(true)
				token, ok := w.Ack(b.seq)
				if !ok {
					continue
				}
				if !prefixAcked(token) {
					t.Errorf("Ack reported %d before every batch up to it was acknowledged", token)
				}
				select {
				case kick <- struct{}{}:
				default:
				}
			}
		})
	}
	stop := make(chan struct{})
	written := make(chan int)
	go func() { // the checkpoint writer
		last := -1
		for {
			select {
			case <-kick:
			case <-stop:
				token, _, _ := w.Checkpoint()
				written <- token
				return
			}
			token, s, ok := w.Checkpoint()
			if !ok {
				continue
			}
			if token < last || Seq(token) != s || !prefixAcked(token) {
				t.Errorf("Checkpoint = %d (Seq %d) after %d", token, s, last)
			}
			last = token
		}
	}()

	for i := range batches {
		seq, err := w.Add(context.Background(), rand.IntN(8), i) // 0..7 events
		if err != nil {
			t.Fatal(err)
		}
		if got := w.InFlight(); got > bound {
			t.Fatalf("InFlight = %d above the bound", got)
		}
		work <- batch{seq, i}
	}
	close(work)
	wg.Wait()
	close(stop)
	if got := <-written; got != batches-1 {
		t.Fatalf("final checkpoint %d, want %d", got, batches-1)
	}
	if got := w.InFlight(); got != 0 {
		t.Fatalf("InFlight = %d after all acks", got)
	}
}
