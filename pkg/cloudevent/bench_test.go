package cloudevent

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// The two event shapes Courier carries: a ~700-byte Omniverse telemetry
// event and an NVSentinel health event. Each op is one event.
var benchEvents = []string{"omniverse.json", "nvsentinel.json"}

// BenchmarkDecode decodes each event into a batch of records, as the
// structured_log receiver does. The "pdata" case is the floor under any
// decoder: it deep-copies the already decoded record (lr.CopyTo), so it
// allocates the same tree of pcommon values without reading any JSON.
func BenchmarkDecode(b *testing.B) {
	for _, name := range benchEvents {
		in := fixture(b, name)
		text := string(in)
		src := decode(b, text)
		cases := []struct {
			name string
			fn   func(d *Decoder, lr plog.LogRecord) error
		}{
			{"copy", func(d *Decoder, lr plog.LogRecord) error { return d.Decode(in, lr) }},
			{"shared", func(d *Decoder, lr plog.LogRecord) error { return d.DecodeString(text, lr) }},
			{"pdata", func(_ *Decoder, lr plog.LogRecord) error { src.CopyTo(lr); return nil }},
		}
		for _, c := range cases {
			b.Run(c.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				var d Decoder
				rs := plog.NewLogRecordSlice()
				for b.Loop() {
					if rs.Len() == 1000 {
						rs = plog.NewLogRecordSlice() // a batch is delivered; the next one starts
					}
					if err := c.fn(&d, rs.AppendEmpty()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
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
