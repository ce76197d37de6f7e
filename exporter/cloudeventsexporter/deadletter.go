package cloudeventsexporter

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// deadLetter counts, logs and stores the events of one push that will not
// be delivered. It never fails the push: an event the directory cannot take
// is counted in dead_letter.dropped instead.
func (e *ceExporter) deadLetter(ctx context.Context, dead []deadEvent) {
	if len(dead) == 0 {
		return
	}
	// Store first, count after: the counters say what has happened.
	var res deadletter.Result
	var err error
	if e.dl != nil {
		res, err = e.dl.Write(e.records(dead))
	}
	byReason := map[string]int{}
	for _, d := range dead {
		byReason[d.reason]++
	}
	for reason, n := range byReason {
		e.tel.deadLetter(ctx, reason, n)
	}
	if e.dl == nil {
		e.tel.dropped(ctx, dropNoDirectory, len(dead))
	} else {
		e.tel.dropped(ctx, dropFull, res.Refused)
		e.tel.dropped(ctx, dropEvicted, res.Evicted)
		e.tel.dropped(ctx, dropWriteError, len(dead)-res.Written-res.Refused)
	}

	first := dead[0]
	id := ""
	if v, ok := first.ref.lr.Attributes().Get(cloudevent.AttrID); ok {
		id = v.AsString()
	}
	e.warn("Events will not be delivered; dead-lettering them",
		zap.Int("events", len(dead)), zap.Any("reasons", byReason),
		zap.String("first_id", id), zap.String("first_reason", first.reason),
		zap.Int("first_status", first.status), zap.String("first_error", first.err),
		zap.String("directory", e.cfg.DeadLetter.Directory))
	if err != nil || res.Refused > 0 || res.Evicted > 0 {
		e.warn("Dead-letter directory did not keep every event",
			zap.String("directory", e.cfg.DeadLetter.Directory), zap.Int("written", res.Written),
			zap.Int("refused", res.Refused), zap.Int("evicted_older", res.Evicted), zap.Error(err))
	}
}

func (e *ceExporter) records(dead []deadEvent) []deadletter.Record {
	now := time.Now().UTC()
	recs := make([]deadletter.Record, len(dead))
	for i, d := range dead {
		recs[i] = deadletter.NewRecord(now, d.reason, d.ref.rl, d.ref.sl, d.ref.lr)
		recs[i].Status, recs[i].Endpoint, recs[i].Error = d.status, d.endpoint, d.err
	}
	return recs
}
