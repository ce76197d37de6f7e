package procstat

import (
	"os"
	"testing"
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
