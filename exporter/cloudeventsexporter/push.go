package cloudeventsexporter

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

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
	e.sendEvent(j.ctx, j.ref, j.p)
	j.wg.Done()
}

// sendEvent encodes and delivers one event. Its body is a fresh buffer
// (sized from the previous event), not a pooled one: it goes to net/http as
// a *bytes.Reader, which sends headers and body in one write.
func (e *ceExporter) sendEvent(ctx context.Context, ref eventRef, p *push) {
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
		p.fail(ref, reasonOf(err), 0, "", err.Error())
	case size > e.cfg.MaxEventSize:
		p.fail(ref, string(cloudevent.ReasonTooLarge), 0, "",
			fmt.Sprintf("encoded event of %d bytes is over max_event_size (%d)", size, e.cfg.MaxEventSize))
	default:
		p.apply1(e.deliver(ctx, &bodySource{b: body}, hdr, 1), ref)
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
		p.apply(e.deliver(ctx, src, nil, bb.b.Count()), bb.refs)
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
	b.Limit = min(limit, e.cfg.TransmissionLimit)
	err = b.Add(ref.lr)
	switch {
	case err == nil:
		return false, nil
	case err == cloudevent.ErrBatchFull:
		return true, nil
	case cloudevent.ReasonOf(err) == cloudevent.ReasonTooLarge:
		if overMax {
			return false, &cloudevent.Error{Reason: cloudevent.ReasonTooLarge, Err: err,
				Msg: fmt.Sprintf("encoded event is over max_event_size (%d bytes)", e.cfg.MaxEventSize)}
		}
		return false, &cloudevent.Error{Reason: cloudevent.ReasonTooLarge, Err: err,
			Msg: fmt.Sprintf("%v: over transmission_limit", err)}
	}
	return false, err
}
