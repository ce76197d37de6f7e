package healthevent

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.opentelemetry.io/collector/pdata/plog"
)

// A realistic event: the A.3 one with the trace_id the platform connector
// adds and the status the other modules write.
const pgBench = `{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"agent": "gpu-health-monitor", ` +
	`"isFatal": true, "message": "XID error occurred", "version": 1, "metadata": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}, ` +
	`"nodeName": "node-1", "checkName": "GpuXidError", "errorCode": ["79"], "componentClass": "GPU", ` +
	`"entitiesImpacted": [{"entityType": "GPU", "entityValue": "0"}], "recommendedAction": 15, ` +
	`"generatedTimestamp": {"nanos": 123456789, "seconds": 1784025000}, "processingStrategy": 1}, ` +
	`"healtheventstatus": {"spanIds": {"platform-connector": "5f2a9c1e7b3d4a60"}, "nodeQuarantined": "Quarantined", ` +
	`"userPodsEvictionStatus": {"status": "InProgress"}}}`

// benchDecode runs decode into a batch of records, as the receiver does; one
// op is one event. The "pdata" case is the floor under any decoder: a deep
// copy of the decoded record, the same tree of pcommon values built without
// reading anything.
func benchDecode(b *testing.B, size int, decode func(*Decoder, plog.LogRecord) error) {
	src := plog.NewLogRecord()
	if err := decode(newDecoder(), src); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fn   func(d *Decoder, lr plog.LogRecord) error
	}{
		{"decode", decode},
		{"pdata", func(_ *Decoder, lr plog.LogRecord) error { src.CopyTo(lr); return nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			d := newDecoder()
			rs := plog.NewLogRecordSlice()
			for b.Loop() {
				if rs.Len() == 1000 {
					rs = plog.NewLogRecordSlice() // a batch is delivered; the next one starts
				}
				if err := c.fn(d, rs.AppendEmpty()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFromPostgres(b *testing.B) {
	doc := []byte(pgBench)
	benchDecode(b, len(doc), func(d *Decoder, lr plog.LogRecord) error {
		return d.FromPostgres(pgID, rowTime, doc, lr)
	})
}

func BenchmarkFromMongo(b *testing.B) {
	doc := mongoDoc(with(mongoA3(), "metadata", bson.D{{Key: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}))
	benchDecode(b, len(doc), func(d *Decoder, lr plog.LogRecord) error { return d.FromMongo(doc, lr) })
}
