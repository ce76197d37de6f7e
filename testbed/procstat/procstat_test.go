package procstat

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	cpu, err := CPUTime(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Fatalf("CPUTime = %v, %v", cpu, err)
	}
	rss, err := PeakRSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Fatalf("PeakRSS = %d, %v", rss, err)
	}
	if _, err := CPUTime(1 << 30); err == nil {
		t.Fatal("CPUTime of no process: no error")
	}
}

// TestAnonPeak: 64 MiB allocated and touched, then let go, show in the
// sampled anonymous peak; the file pages of the test binary do not.
func TestAnonPeak(t *testing.T) {
	before, err := AnonRSS(os.Getpid())
	if err != nil || before <= 0 {
		t.Fatalf("AnonRSS = %d, %v", before, err)
	}
	stop := AnonPeak(os.Getpid(), time.Millisecond)
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	time.Sleep(20 * time.Millisecond)
	runtime.KeepAlive(buf)
	peak := stop()
	if peak < before+60<<20 {
		t.Fatalf("anonymous peak %d MiB, want at least %d + 60 MiB", peak>>20, before>>20)
	}
	if total, _ := PeakRSS(os.Getpid()); total < peak {
		t.Fatalf("total peak %d < anonymous peak %d", total, peak)
	}
}
