package cloudeventsexporter

import (
	"context"
	"sync"
	"time"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/arc"
)

// sendJob is one event to send, and where its outcome goes.
type sendJob struct {
	ctx  context.Context
	ref  eventRef
	p    *push
	wg   *sync.WaitGroup // Done when the event is settled
	slot arc.Ticket      // the adaptive limit's slot for its first attempt
}

// workers runs the one-event-per-request sends: at most max at a time
// across the exporter, on goroutines that are kept for a while between
// events. A goroutine per event would cost more than the request itself
// on a fast sink: each new goroutine grows its stack through the HTTP
// client's deep call chain.
//
// With an adaptive limit (admit), a send reaches a worker only once it has
// a slot for its first attempt: the sender waits, not a worker, so that
// about as many workers run as the limit allows, as in fixed mode, and not
// concurrency of them, each holding its encoded event and stack while it
// waits for a slot.
type workers struct {
	run   func(sendJob)
	admit func(context.Context) (arc.Ticket, error) // nil: no adaptive limit
	sem   chan struct{}                             // one token per send in progress
	jobs  chan sendJob                              // hands a send to an idle worker
	quit  chan struct{}                             // closed by stop
	idle  time.Duration                             // an idle worker exits after this
	wg    sync.WaitGroup
}

func newWorkers(max int, idle time.Duration, run func(sendJob), admit func(context.Context) (arc.Ticket, error)) *workers {
	return &workers{
		run:   run,
		admit: admit,
		sem:   make(chan struct{}, max),
		jobs:  make(chan sendJob),
		quit:  make(chan struct{}),
		idle:  idle,
	}
}

// submit runs j on a worker once fewer than max sends are in progress. It
// returns false, without running j, when ctx ends first.
func (w *workers) submit(ctx context.Context, j sendJob) bool {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if w.admit != nil {
		var err error
		if j.slot, err = w.admit(ctx); err != nil {
			<-w.sem
			return false
		}
	}
	// The semaphore, not this hand-over, bounds the sends: with no worker
	// waiting, start one.
	select {
	case w.jobs <- j:
	default:
		w.wg.Add(1)
		go w.loop(j)
	}
	return true
}

func (w *workers) loop(j sendJob) {
	defer w.wg.Done()
	// The timer is not reset per job (that costs more than reading the
	// clock): it fires every idle period and the worker checks how long it
	// has been idle.
	timer := time.NewTimer(w.idle)
	defer timer.Stop()
	for {
		w.run(j)
		<-w.sem
		idleSince := time.Now()
	wait:
		select {
		case j = <-w.jobs:
		case <-timer.C:
			idle := time.Since(idleSince)
			if idle >= w.idle {
				return
			}
			timer.Reset(w.idle - idle)
			goto wait
		case <-w.quit:
			return
		}
	}
}

// stop ends the idle workers and waits for all; no submit may follow.
func (w *workers) stop() {
	close(w.quit)
	w.wg.Wait()
}
