// Package ackwindow tracks the batches a receiver has handed downstream and
// not yet checkpointed, so that the checkpoint only ever moves past events
// whose ConsumeLogs returned nil, whatever order the pipeline finishes in.
//
// Batches enter the window in emission order (Add) and leave it from the
// front, once they and every batch before them are acknowledged (Ack). Ack
// reports the token of the last batch that left: the token of the last event
// of the contiguous acknowledged prefix, which is what the receiver writes
// as its checkpoint. A batch carries only its last event's token, because
// acknowledgement is per batch and the prefix therefore always ends on some
// batch's last event.
//
// A batch whose ConsumeLogs failed is simply not acknowledged: the receiver
// retries it (it keeps its own copy of the rows) and acknowledges it once a
// retry succeeds, and until then it holds back the checkpoint, and every
// batch after it stays in the window. There is no negative acknowledgement:
// a batch the receiver gives up on (a permanent error, counted and logged)
// needs no more work, so it is acknowledged too.
//
// Acks of concurrent goroutines return their tokens in the order they took
// the window's lock, but the goroutines may act on them in another order. A
// receiver that acknowledges from several goroutines therefore writes its
// checkpoint from one goroutine that reads Checkpoint (woken by the Acks
// that report true), which also folds many small advances into one write.
//
// The window is bounded in events. Add blocks while the window is full, and
// events count until they leave the window, not merely until their own batch
// is acknowledged: a batch stuck in retries then bounds both the memory held
// here and the events that a crash would deliver a second time.
package ackwindow

import (
	"context"
	"fmt"
	"sync"
)

// Seq identifies a batch in the window.
type Seq uint64

// Window is a bounded window of unacknowledged batches, safe for concurrent
// use. T is the receiver's checkpoint token (a resume token, a changelog id).
type Window[T any] struct {
	max int

	mu    sync.Mutex
	q     []entry[T] // q[head:] are the batches in the window, oldest first
	head  int
	first Seq           // Seq of q[head]; the batches before it have left
	done  T             // token of batch first-1
	used  int           // events in the window
	freed chan struct{} // closed when events leave; nil while nobody waits
}

type entry[T any] struct {
	token T
	n     int // events, at least 1 (see Add)
	acked bool
}

// New returns a window that holds up to maxEvents events (the receiver's
// max_in_flight).
func New[T any](maxEvents int) *Window[T] {
	if maxEvents < 1 {
		panic(fmt.Sprintf("ackwindow: the window must hold at least 1 event, not %d", maxEvents))
	}
	return &Window[T]{max: maxEvents}
}

// Add enters a batch of n events whose last event has the token last, and
// returns its Seq for Ack. The order of Adds is the order the checkpoint
// follows, so call Add in emission order (from the one goroutine that reads
// the store) and hand the batch downstream after Add returns.
//
// Add blocks while the batch does not fit, until acknowledgements make room
// or ctx is done. A batch larger than the whole window enters an empty
// window, so that it cannot wait forever. A batch of no events (a token that
// moves past rows that are not exported) takes the room of one event, which
// keeps the number of batches bounded too.
func (w *Window[T]) Add(ctx context.Context, n int, last T) (Seq, error) {
	if n < 0 {
		return 0, fmt.Errorf("ackwindow: batch of %d events", n)
	}
	n = max(n, 1)
	w.mu.Lock()
	for w.used > 0 && w.used+n > w.max {
		if w.freed == nil {
			w.freed = make(chan struct{})
		}
		freed := w.freed
		w.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		w.mu.Lock()
	}
	defer w.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	seq := w.first + Seq(len(w.q)-w.head)
	w.q = append(w.q, entry[T]{token: last, n: n})
	w.used += n
	return seq, nil
}

// Ack acknowledges batch s. When that makes the acknowledged prefix longer,
// the batches of the prefix leave the window and Ack returns the token of
// the last of them and true; the receiver writes that token as its
// checkpoint. Otherwise (an earlier batch is still out, or s was already
// acknowledged) it returns false.
func (w *Window[T]) Ack(s Seq) (token T, advanced bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s < w.first || s-w.first >= Seq(len(w.q)-w.head) {
		return token, false // already left the window, or never entered it
	}
	w.q[w.head+int(s-w.first)].acked = true
	for w.head < len(w.q) && w.q[w.head].acked {
		token, advanced = w.q[w.head].token, true
		w.used -= w.q[w.head].n
		w.q[w.head] = entry[T]{} // let go of the token
		w.head++
		w.first++
	}
	if !advanced {
		return token, false
	}
	w.done = token
	w.compact()
	if w.freed != nil {
		close(w.freed)
		w.freed = nil
	}
	return token, true
}

// compact reuses the front of q once the batches that left it are most of it.
func (w *Window[T]) compact() {
	switch {
	case w.head == len(w.q):
		w.q, w.head = w.q[:0], 0
	case w.head >= 64 && w.head >= len(w.q)/2:
		n := copy(w.q, w.q[w.head:])
		clear(w.q[n:])
		w.q, w.head = w.q[:n], 0
	}
}

// Checkpoint returns the token of the last event of the acknowledged prefix
// and the Seq of its batch, or false while no batch has left the window.
func (w *Window[T]) Checkpoint() (token T, s Seq, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first == 0 {
		return token, 0, false
	}
	return w.done, w.first - 1, true
}

// InFlight returns the number of events in the window (a batch of no events
// counting one), for a metric.
func (w *Window[T]) InFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.used
}
