package cloudeventsexporter

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/arc"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// maxPooled bounds the buffers kept for reuse, so that one huge body does
// not stay in memory for good.
const maxPooled = 4 << 20

// workerIdle is how long a send worker waits for the next event before it
// exits.
const workerIdle = 10 * time.Second

// pushEach sends the events one per request, up to concurrency requests in
// flight across the exporter, each with its own retries.
func (e *ceExporter) pushEach(ctx context.Context, refs []eventRef, p *push) {
	var wg sync.WaitGroup
	for i, ref := range refs {
		if e.keepOnShutdown && p.isInterrupted() {
			break // the whole request stays queued; no point in sending more
		}
		wg.Add(1)
		if !e.workers.submit(ctx, sendJob{ctx: ctx, ref: ref, p: p, wg: &wg}) {
			wg.Done()
			p.interrupt(ctx.Err(), 0, "", refs[i:]...)
			break
		}
	}
	wg.Wait()
}

// runJob is what a worker does with a job.
func (e *ceExporter) runJob(j sendJob) {
	e.sendEvent(j.ctx, j.ref, j.p, j.slot)
	j.wg.Done()
}

// sendEvent encodes and delivers one event, with slot (when held) for its
// first attempt. Its body is a fresh buffer (sized from the previous
// event), not a pooled one: it goes to net/http as a *bytes.Reader, which
// sends headers and body in one write.
func (e *ceExporter) sendEvent(ctx context.Context, ref eventRef, p *push, slot arc.Ticket) {
	body := make([]byte, 0, e.sizeHint.Load())
	var hdr http.Header
	var err error
	size := 0
	if e.cfg.Encoding == EncodingBinary {
		hdr = make(http.Header, 10)
		body, err = cloudevent.AppendBinary(hdr, body, ref.lr)
		for k, vs := range hdr {
			for _, v := range vs {
				size += len(k) + len(v)
			}
		}
	} else {
		body, err = cloudevent.Structured{}.AppendEvent(body, ref.lr)
	}
	size += len(body)
	if hint := int64(min(len(body)+len(body)/8, maxPooled)); hint != e.sizeHint.Load() {
		e.sizeHint.Store(hint) // a store only on change: the line is shared by every worker
	}
	switch {
	case err != nil:
		e.limiter.Release(slot, arc.Sample{Outcome: arc.Unknown})
		p.fail(ref, reasonOf(err), 0, "", err.Error())
	case size > e.cfg.MaxEventSize:
		e.limiter.Release(slot, arc.Sample{Outcome: arc.Unknown})
		p.fail(ref, string(cloudevent.ReasonTooLarge), 0, "",
			fmt.Sprintf("encoded event of %d bytes is over max_event_size (%d)", size, e.cfg.MaxEventSize))
	default:
		p.apply1(e.deliver(ctx, &bodySource{b: body}, hdr, 1, slot), ref)
	}
}

// reasonOf is the dead-letter reason of an encoding error.
func reasonOf(err error) string {
	if r := cloudevent.ReasonOf(err); r != "" {
		return string(r)
	}
	return string(cloudevent.ReasonNotEncodable)
}

// batchBuf is a body being filled, with the events it holds.
type batchBuf struct {
	b    cloudevent.Batch
	refs []eventRef
}

// pushBatches packs the events into bodies of at most transmission_limit
// bytes and sends them one after the other (the queue's consumers give the
// parallelism).
func (e *ceExporter) pushBatches(ctx context.Context, refs []eventRef, p *push) {
	bb, _ := e.batchBufs.Get().(*batchBuf)
	if bb == nil {
		bb = &batchBuf{b: cloudevent.Batch{Format: e.format, Framing: e.framing}}
	}
	flush := func() bool {
		if bb.b.Count() == 0 {
			return true
		}
		src := &bodySource{b: bb.b.Body(), track: true}
		e.sendBody(ctx, src, bb.refs, p)
		clear(bb.refs) // let the pdata go
		bb.refs = bb.refs[:0]
		if src.released() {
			bb.b.Reset()
		} else {
			// The transport may still read the old body: start a new one.
			bb.b = cloudevent.Batch{Format: e.format, Framing: e.framing}
		}
		return !e.keepOnShutdown || !p.isInterrupted()
	}
	for _, ref := range refs {
		full, err := e.add(&bb.b, ref)
		if full {
			if !flush() {
				return
			}
			_, err = e.add(&bb.b, ref)
		}
		if err != nil {
			p.fail(ref, reasonOf(err), 0, "", err.Error())
			continue
		}
		bb.refs = append(bb.refs, ref)
	}
	if !flush() {
		return
	}
	if cap(bb.b.Body()) <= maxPooled {
		e.batchBufs.Put(bb)
	}
}

// sendBody delivers one body holding refs. A body the endpoint refuses as
// too large (413) is split in halves, each sent the same way, and the
// endpoint's packing limit drops to half the refused size so that the next
// bodies fit; an event refused alone is dead-lettered as too_large.
func (e *ceExporter) sendBody(ctx context.Context, src *bodySource, refs []eventRef, p *push) {
	out := e.deliver(ctx, src, nil, len(refs), arc.Ticket{})
	if out.kind != failed || out.status != http.StatusRequestEntityTooLarge || len(refs) < 2 {
		p.apply(out, refs)
		return
	}
	e.shrink(out.ep, len(src.b))
	half := len(refs) / 2
	for _, part := range [][]eventRef{refs[:half], refs[half:]} {
		if e.keepOnShutdown && p.isInterrupted() {
			return // the whole request stays with the queue or the caller
		}
		var b cloudevent.Batch // no Limit: these events fitted in the refused body
		b.Format, b.Framing = e.format, e.framing
		kept := make([]eventRef, 0, len(part))
		for _, ref := range part {
			if err := b.Add(ref.lr); err != nil {
				p.fail(ref, reasonOf(err), 0, "", err.Error())
				continue
			}
			kept = append(kept, ref)
		}
		if len(kept) > 0 {
			e.sendBody(ctx, &bodySource{b: b.Body()}, kept, p)
		}
	}
}

// shrink lowers endpoint ep's packing limit after it refused a body of size
// bytes with 413. Half the refused size: the halves of a refused body are
// sent next, so the limit ends within a factor of two of the sink's.
func (e *ceExporter) shrink(ep, size int) {
	limit := int64(size / 2)
	for {
		cur := e.bodyLimits[ep].Load()
		if cur != 0 && cur <= limit {
			return
		}
		if e.bodyLimits[ep].CompareAndSwap(cur, limit) {
			e.warn("Endpoint refused a body as too large (413); splitting it and packing smaller bodies for this endpoint",
				zap.String("endpoint", e.redacted[ep]), zap.Int("refused_bytes", size), zap.Int64("body_limit", limit))
			return
		}
	}
}

// packLimit is the most the body may hold beside its first event: the
// active endpoint's learned limit, within transmission_limit. A body's
// first event is always sent, even over the learned limit: only the
// endpoint can say that it is too large.
func (e *ceExporter) packLimit() int {
	if l := e.bodyLimits[e.active.Load()].Load(); l > 0 {
		return min(e.cfg.TransmissionLimit, int(l))
	}
	return e.cfg.TransmissionLimit
}

// add encodes ref into the body. full means the body must be sent first.
//
// The batch's Limit is set for each event so that it also enforces
// max_event_size: the event may take at most max_event_size bytes beside the
// framing, and never more than transmission_limit with what the body holds.
func (e *ceExporter) add(b *cloudevent.Batch, ref eventRef) (full bool, err error) {
	fr := &e.framing
	limit := len(fr.Open) + e.cfg.MaxEventSize + len(fr.Term) + len(fr.Close)
	if b.Count() > 0 {
		limit = len(b.Body()) - len(fr.Close) + len(fr.Sep) + e.cfg.MaxEventSize + len(fr.Term) + len(fr.Close)
	}
	overMax := limit <= e.cfg.TransmissionLimit
	tl := e.cfg.TransmissionLimit
	if b.Count() > 0 {
		tl = e.packLimit()
	}
	b.Limit = min(limit, tl)
	err = b.Add(ref.lr)
	switch {
	case err == nil:
		return false, nil
	case err == cloudevent.ErrBatchFull:
		return true, nil
	case cloudevent.ReasonOf(err) == cloudevent.ReasonTooLarge:
		if tl < e.cfg.TransmissionLimit {
			// Over the learned limit only: it goes alone in the next body.
			return true, nil
		}
		if overMax {
			return false, &cloudevent.Error{Reason: cloudevent.ReasonTooLarge, Err: err,
				Msg: fmt.Sprintf("encoded event is over max_event_size (%d bytes)", e.cfg.MaxEventSize)}
		}
		return false, &cloudevent.Error{Reason: cloudevent.ReasonTooLarge, Err: err,
			Msg: fmt.Sprintf("%v: over transmission_limit", err)}
	}
	return false, err
}
