package cloudevent

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// The two event shapes Courier carries: a ~700-byte Omniverse telemetry
// event and an NVSentinel health event. Each op is one event.
var benchEvents = []string{"omniverse.json", "nvsentinel.json"}

func BenchmarkDecode(b *testing.B) {
	for _, name := range benchEvents {
		in := fixture(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var d Decoder
			logs := plog.NewLogs()
			rs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			for b.Loop() {
				if rs.Len() == 1000 {
					rs.RemoveIf(func(plog.LogRecord) bool { return true })
				}
				if err := d.Decode(in, rs.AppendEmpty()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	formats := []struct {
		name string
		f    Format
	}{{"structured", Structured{}}, {"stringified", Stringified{}}, {"nvdf", NVDF{}}}
	for _, name := range benchEvents {
		in := fixture(b, name)
		lr := decode(b, string(in))
		for _, f := range formats {
			b.Run(f.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					var err error
					if buf, err = f.f.AppendEvent(buf[:0], lr); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run("binary/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var buf []byte
			h := http.Header{}
			for b.Loop() {
				var err error
				if buf, err = AppendBinary(h, buf[:0], lr); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, fr := range []struct {
			name string
			f    Framing
		}{{"batch", FramingArray}, {"jsonl", FramingLines}} {
			b.Run(fr.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				batch := Batch{Format: Structured{}, Framing: fr.f, Limit: 10 << 20}
				for b.Loop() {
					err := batch.Add(lr)
					if err == ErrBatchFull {
						batch.Reset()
						err = batch.Add(lr)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
