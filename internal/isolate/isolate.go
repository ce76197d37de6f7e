// Package isolate keeps a permanent error for a whole batch from taking the
// batch's good events with it. When the next consumer refuses a batch for
// good (consumererror.IsPermanent: a Kafka record over max_message_bytes, a
// body the sink refuses), the batch is split in halves that are offered
// again, recursively, until the refused events stand alone; those are
// handed to a dead-letter function and the rest is delivered.
//
// It runs only after a permanent error, so the error-free path costs
// nothing: the caller keeps the events of a refused batch (or decodes them
// again), and every offer here is a copy, since consumers may change or
// take apart what they were given.
package isolate // import "github.com/courier-otel/courier/internal/isolate"

import (
	"context"
	"strings"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// DefaultMaxDepth bounds the halvings: 2^16 events are isolated one by one.
const DefaultMaxDepth = 16

// DeadFunc receives the events refused for good, alone, or a whole chunk
// once MaxDepth halvings did not isolate them, with the reason and the
// error. When it returns they count as settled.
type DeadFunc func(ctx context.Context, ld plog.Logs, reason string, err error)

// Result says where the events went.
type Result struct {
	Accepted int // events the consumer accepted
	Dead     int // events handed to the DeadFunc
	Offers   int // ConsumeLogs calls made
}

// Options tune Deliver.
type Options struct {
	// MaxDepth bounds the halvings below the batch (≤ 0: DefaultMaxDepth).
	// With depth d a batch costs at most 2^(d+1)-1 offers.
	MaxDepth int
	// Refused says ld was already refused permanently as a whole: start by
	// offering its halves.
	Refused bool
	// Cause is the permanent error of that refusal, reported when ld holds
	// a single event.
	Cause error
}

// Deliver offers copies of ld to next until every event is accepted or
// dead-lettered, in order. It returns nil then, or the first error that is
// not permanent (the caller offers the batch again later as usual: the
// events accepted by then are offered twice). ld itself is not handed over.
func Deliver(ctx context.Context, next consumer.Logs, ld plog.Logs, opts Options, dead DeadFunc) (Result, error) {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	d := deliverer{ctx: ctx, next: next, src: ld, opts: opts, dead: dead}
	n := ld.LogRecordCount()
	var err error
	if opts.Refused && opts.Cause != nil {
		err = d.split(0, n, 0, opts.Cause)
	} else {
		err = d.offer(0, n, 0)
	}
	return d.res, err
}

type deliverer struct {
	ctx  context.Context
	next consumer.Logs
	src  plog.Logs
	opts Options
	dead DeadFunc
	res  Result
}

// offer offers events [lo, hi) of src.
func (d *deliverer) offer(lo, hi, depth int) error {
	if lo >= hi {
		return nil
	}
	d.res.Offers++
	err := d.next.ConsumeLogs(d.ctx, Slice(d.src, lo, hi))
	switch {
	case err == nil:
		d.res.Accepted += hi - lo
		return nil
	case !consumererror.IsPermanent(err):
		return err
	}
	return d.split(lo, hi, depth, err)
}

// split handles events [lo, hi) refused for good with err.
func (d *deliverer) split(lo, hi, depth int, err error) error {
	if hi-lo == 1 || depth >= d.opts.MaxDepth {
		d.res.Dead += hi - lo
		d.dead(d.ctx, Slice(d.src, lo, hi), Reason(err), err)
		return nil
	}
	mid := lo + (hi-lo)/2
	if err := d.offer(lo, mid, depth+1); err != nil {
		return err
	}
	return d.offer(mid, hi, depth+1)
}

// Reason classifies a permanent error as a dead-letter reason: too_large
// for a record over Kafka's limit (MESSAGE_TOO_LARGE, whether the client
// or the broker said so) or an event over an encoder's limit, rejected
// otherwise.
func Reason(err error) string {
	if err == nil {
		return deadletter.ReasonRejected
	}
	if cloudevent.ReasonOf(err) == cloudevent.ReasonTooLarge || strings.Contains(err.Error(), "MESSAGE_TOO_LARGE") {
		return deadletter.ReasonTooLarge
	}
	return deadletter.ReasonRejected
}

// Slice is a copy of events [lo, hi) of ld (in the order of its resources,
// scopes and records), with their resources and scopes.
func Slice(ld plog.Logs, lo, hi int) plog.Logs {
	out := plog.NewLogs()
	i := 0
	for _, rl := range ld.ResourceLogs().All() {
		var orl plog.ResourceLogs
		haveRL := false
		for _, sl := range rl.ScopeLogs().All() {
			n := sl.LogRecords().Len()
			if i+n <= lo || i >= hi {
				i += n
				continue
			}
			if !haveRL {
				orl = out.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(orl.Resource())
				orl.SetSchemaUrl(rl.SchemaUrl())
				haveRL = true
			}
			osl := orl.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(osl.Scope())
			osl.SetSchemaUrl(sl.SchemaUrl())
			from, to := max(lo-i, 0), min(hi-i, n)
			recs := osl.LogRecords()
			recs.EnsureCapacity(to - from)
			for j := from; j < to; j++ {
				sl.LogRecords().At(j).CopyTo(recs.AppendEmpty())
			}
			i += n
		}
	}
	return out
}
