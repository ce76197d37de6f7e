package datastorereceiver

import (
	"github.com/courier-otel/courier/internal/isolate"

	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/ackwindow"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/healthevent"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
)

// Attribute keys the receiver adds to each record.
const (
	AttrDBSystem   = "db.system.name"
	ReasonRefused  = "permanent_error"
	dataFormatName = "nvsentinel"
)

// session reads one source: it hands each batch downstream on a goroutine
// of its own, up to max_in_flight events at once, and writes the token of
// the contiguous prefix of delivered batches, whatever order they finish
// in (ackwindow). A refused batch is decoded again from its rows and
// offered again after a backoff, until it is accepted or refused for good.
type session struct {
	r      *datastoreReceiver
	src    source
	window *ackwindow.Window[checkpoint]
	dec    healthevent.Decoder // the reading goroutine's
	// recoveries counted so far in ResumeTokenLost (the source counts
	// since it was opened).
	recoveries int64

	deliveries sync.WaitGroup
	advanced   chan struct{} // the checkpoint moved
	stop       chan struct{}
	writerDone chan struct{}
}

// checkpoint is what a batch leaves behind once delivered.
type checkpoint struct {
	token     any
	createdAt time.Time
}

func newSession(r *datastoreReceiver, src source) *session {
	s := &session{
		r: r, src: src,
		window:     ackwindow.New[checkpoint](r.cfg.MaxInFlight),
		dec:        healthevent.Decoder{Source: r.cfg.EventSource},
		advanced:   make(chan struct{}, 1),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go s.writeTokens()
	return s
}

// close waits for the deliveries in flight, writes the last token and
// closes the source.
func (s *session) close() {
	s.deliveries.Wait()
	close(s.stop)
	<-s.writerDone
	if err := s.src.close(); err != nil {
		s.r.log.Debug("Closing the datastore connection", zap.Error(err))
	}
}

// handOff enters b in the window (waiting for room) and delivers it. It
// returns false when readCtx ended first: b is then neither delivered nor
// checkpointed, and whoever reads next reads it again.
func (s *session) handOff(readCtx, runCtx context.Context, b batch) bool {
	ld, n := s.decode(b, &s.dec, true)
	seq, err := s.window.Add(readCtx, b.len(), checkpoint{token: b.token(), createdAt: b.lastCreatedAt()})
	if err != nil {
		return false
	}
	tel := s.r.tel
	if k := b.backfill(); k > 0 {
		tel.BackfillEvents.Add(context.Background(), int64(k))
	}
	tel.EventsInFlight.Record(context.Background(), int64(s.window.InFlight()))
	st := s.src.stats()
	tel.ChangelogGaps.Record(context.Background(), int64(st.openGaps))
	if n := st.recoveries - s.recoveries; n > 0 {
		tel.ResumeTokenLost.Add(context.Background(), n)
		s.recoveries = st.recoveries
	}
	s.deliveries.Add(1)
	go s.deliver(runCtx, seq, b, ld, n)
	return true
}

// deliver offers one batch until it is accepted or refused for good, then
// acknowledges it. When runCtx ends first the batch is not acknowledged.
func (s *session) deliver(ctx context.Context, seq ackwindow.Seq, b batch, ld plog.Logs, n int) {
	defer s.deliveries.Done()
	r := s.r
	backoff := backoffInitial
	for n > 0 {
		opCtx := r.obs.StartLogsOp(ctx)
		err := r.next.ConsumeLogs(opCtx, ld)
		r.obs.EndLogsOp(opCtx, dataFormatName, n, err)
		switch {
		case err == nil:
			r.tel.EventsEmitted.Add(context.Background(), int64(n))
			n = 0
		case consumererror.IsPermanent(err):
			// Refused for good as a whole: offer the halves of the batch,
			// decoded anew, until the refused events stand alone; they are
			// dead-lettered and the rest delivered.
			ld, _ = s.decode(b, &healthevent.Decoder{Source: r.cfg.EventSource}, false)
			res, ierr := isolate.Deliver(ctx, r.next, ld, isolate.Options{MaxDepth: r.cfg.MaxSplitDepth, Refused: true, Cause: err}, r.deadLetter)
			if ierr == nil {
				r.tel.EventsEmitted.Add(context.Background(), int64(res.Accepted))
				n = 0
				break
			}
			err = ierr
			if ctx.Err() != nil {
				return
			}
			r.warn("The next consumer refused events; offering them again",
				zap.Int("events", n), zap.Duration("backoff", backoff), zap.Error(err))
			if backoff = sleep(ctx, backoff); ctx.Err() != nil {
				return
			}
			ld, n = s.decode(b, &healthevent.Decoder{Source: r.cfg.EventSource}, false)
		case ctx.Err() != nil:
			return
		default:
			r.warn("The next consumer refused events; offering them again",
				zap.Int("events", n), zap.Duration("backoff", backoff), zap.Error(err))
			if backoff = sleep(ctx, backoff); ctx.Err() != nil {
				return
			}
			// The consumers may have changed the refused batch: decode it
			// anew (with a decoder of this goroutine's own).
			ld, n = s.decode(b, &healthevent.Decoder{Source: r.cfg.EventSource}, false)
		}
	}
	if _, advanced := s.window.Ack(seq); advanced {
		select {
		case s.advanced <- struct{}{}:
		default:
		}
	}
}

// deadLetter settles events the next consumer refused for good, alone.
func (r *datastoreReceiver) deadLetter(ctx context.Context, ld plog.Logs, reason string, err error) {
	r.tel.EventsRejected.Add(ctx, int64(ld.LogRecordCount()), metadata.ReasonSet(ReasonRefused))
	r.dead.Put(ctx, ld, reason, err)
}

// writeTokens writes the checkpoint whenever it moves, from this one
// goroutine so that tokens are written in order, and once more at the end.
func (s *session) writeTokens() {
	defer close(s.writerDone)
	var written ackwindow.Seq
	wrote := false
	write := func() {
		cp, seq, ok := s.window.Checkpoint()
		if !ok || wrote && seq == written {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		defer cancel()
		tel := s.r.tel
		if err := s.src.saveToken(ctx, cp.token); err != nil {
			tel.TokenWrites.Add(ctx, 1, metadata.ResultSet("error"))
			s.r.warn("Cannot write the resume token; the next write carries it", zap.Error(err))
			return
		}
		written, wrote = seq, true
		tel.TokenWrites.Add(ctx, 1, metadata.ResultSet("ok"))
		tel.EventsInFlight.Record(ctx, int64(s.window.InFlight()))
		if !cp.createdAt.IsZero() {
			tel.Lag.Record(ctx, time.Since(cp.createdAt).Seconds())
		}
	}
	for {
		select {
		case <-s.advanced:
			write()
		case <-s.stop:
			write()
			return
		}
	}
}

// decode turns b into log records, skipping documents that are not health
// events (counted and logged when count is set, i.e. the first time).
func (s *session) decode(b batch, d *healthevent.Decoder, count bool) (plog.Logs, int) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	if s.r.cfg.EventSource == defaultEventSource {
		// The placeholder is for event_metadata to replace; marking it lets
		// that processor do so without overwrite, and the exporter warn
		// when nothing did.
		rl.Resource().Attributes().PutStr(cloudevent.ResourceAttrPlaceholderSource, s.r.set.ID.String())
	}
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	records := sl.LogRecords()
	records.EnsureCapacity(b.len())
	now := pcommon.NewTimestampFromTime(time.Now())
	system := dbSystem(s.r.cfg.Provider)
	var bad []bool
	for i := range b.len() {
		lr := records.AppendEmpty()
		if err := b.decode(d, i, lr); err != nil {
			if bad == nil {
				bad = make([]bool, b.len())
			}
			bad[i] = true
			if count {
				reason := healthevent.ReasonOf(err)
				s.r.tel.EventsRejected.Add(context.Background(), 1, metadata.ReasonSet(reason))
				s.r.warn("Skipping a stored document that is not a health event",
					zap.String("reason", reason), zap.Error(err))
			}
			continue
		}
		lr.SetObservedTimestamp(now)
		lr.Attributes().PutStr(AttrDBSystem, system)
	}
	if bad != nil {
		i := -1
		records.RemoveIf(func(plog.LogRecord) bool { i++; return bad[i] })
	}
	return ld, records.Len()
}
