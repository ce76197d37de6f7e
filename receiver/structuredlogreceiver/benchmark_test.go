package structuredlogreceiver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
)

// BenchmarkReceiver measures this receiver alone: b.N ~700-byte Omniverse
// events (pkg/cloudevent/testdata/omniverse.json) pre-written to one file,
// read, decoded and handed to a consumer that drops them. One op is one
// event. It runs on one core (GOMAXPROCS 1: the garbage collector shares
// it), the figure issue 3 asks for, and on two.
func BenchmarkReceiver(b *testing.B) {
	for _, cores := range []int{1, 2} {
		b.Run(fmt.Sprintf("cores=%d", cores), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cores))
			benchmarkReceiver(b)
		})
	}
}

func benchmarkReceiver(b *testing.B) {
	line, err := os.ReadFile(filepath.Join("..", "..", "pkg", "cloudevent", "testdata", "omniverse.json"))
	if err != nil {
		b.Fatal(err)
	}
	line = append(bytes.TrimSpace(line), '\n')
	if bytes.Count(line, []byte{'\n'}) != 1 {
		b.Fatal("omniverse.json is not one line")
	}
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "bench.log"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, _ = w.WriteString(pad(goodHeader)) // errors stick in w: Flush reports them
	for range b.N {
		_, _ = w.Write(line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	_ = f.Close()

	var got atomic.Int64
	done := make(chan struct{})
	next, _ := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		if got.Add(int64(ld.LogRecordCount())) == int64(b.N) {
			close(done)
		}
		return nil
	})
	cfg := testConfig(dir)
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, next)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if err := r.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
}
