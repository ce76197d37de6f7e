package cloudeventsexporter

import (
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// warnPlaceholders logs, once per receiver, that events still carry the
// placeholder source that receiver gave them: the pipeline lacks an
// event_metadata processor with a source, and the sink gets a source such
// as nvsentinel://unknown/healthevents. The events are sent all the same:
// a placeholder is a valid CloudEvent source.
func (e *ceExporter) warnPlaceholders(ld plog.Logs) {
	for _, rl := range ld.ResourceLogs().All() {
		id, ok := rl.Resource().Attributes().Get(cloudevent.ResourceAttrPlaceholderSource)
		if !ok {
			continue
		}
		if _, seen := e.placeholders.LoadOrStore(id.Str(), true); seen {
			continue
		}
		src := ""
		if sls := rl.ScopeLogs(); sls.Len() > 0 && sls.At(0).LogRecords().Len() > 0 {
			v, _ := sls.At(0).LogRecords().At(0).Attributes().Get(cloudevent.AttrSource)
			src = v.Str()
		}
		e.logger.Warn("Events are sent with a receiver's placeholder source: add an event_metadata processor "+
			"with `source` (e.g. nvsentinel://{cluster}/healthevents) to this pipeline, or set the receiver's event_source",
			zap.String("receiver", id.Str()), zap.String("source", src))
	}
}
