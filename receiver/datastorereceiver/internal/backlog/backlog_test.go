package backlog

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestTakeWithoutLimit(t *testing.T) {
	buf := []int{1, 2, 3, 4, 5}
	got, err := Take(context.Background(), NewPacer(0, 100), &buf, 3)
	if err != nil || !slices.Equal(got, []int{1, 2, 3}) || !slices.Equal(buf, []int{4, 5}) {
		t.Fatalf("got %v, left %v, %v", got, buf, err)
	}
	// The rows handed out do not share room with the buffer: appending to
	// them must not overwrite what is left.
	_ = append(got, 99)
	if buf[0] != 4 {
		t.Fatal("taken rows alias the buffer")
	}
}

// TestTakeHoldsTheRate: 100 rows at 200/s take about half a second, handed
// out in bursts of a tenth of a second's rows.
func TestTakeHoldsTheRate(t *testing.T) {
	p := NewPacer(200, 1000)
	buf := make([]int, 100)
	start := time.Now()
	n := 0
	for len(buf) > 0 {
		rows, err := Take(context.Background(), p, &buf, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 20 {
			t.Fatalf("a burst of %d rows, want at most 20 (0.1 s at 200/s)", len(rows))
		}
		n += len(rows)
	}
	// Loose bound only: the burst lets the first 20 go at once.
	if d := time.Since(start); n != 100 || d < 300*time.Millisecond {
		t.Fatalf("%d rows in %s", n, d)
	}
}

func TestTakeStopsWithContext(t *testing.T) {
	p := NewPacer(1, 1)
	buf := []int{1, 2, 3}
	if _, err := Take(context.Background(), p, &buf, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Take(ctx, p, &buf, 1); err == nil {
		t.Fatal("no error from a cancelled context")
	}
}
