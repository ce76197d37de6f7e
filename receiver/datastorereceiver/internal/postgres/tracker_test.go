package postgres

import (
	"testing"
	"time"
)

func at(s int) time.Time { return time.Unix(int64(s), 0).UTC() }

func TestTrackerFrontier(t *testing.T) {
	tr := newTracker(10, at(10), 100)
	for _, id := range []int64{11, 12, 15, 16, 20} {
		if !tr.advance(id, at(int(id)), 7) {
			t.Fatalf("advance(%d) refused", id)
		}
	}
	// Gaps 13..14 and 17..19.
	if got, want := len(tr.gaps), 2; got != want {
		t.Fatalf("%d gaps, want %d: %+v", got, want, tr.gaps)
	}
	if id, ts := tr.frontier(); id != 12 || !ts.Equal(at(12)) {
		t.Errorf("frontier = %d at %v, want 12 at %v", id, ts, at(12))
	}

	if !tr.fill(14, at(14)) {
		t.Fatal("fill(14) not in a gap")
	}
	if tr.fill(14, at(14)) || tr.fill(16, at(16)) {
		t.Fatal("a consumed id counted as a gap fill")
	}
	if id, _ := tr.frontier(); id != 12 {
		t.Errorf("frontier after filling 14 = %d, want 12 (13 still open)", id)
	}
	tr.fill(13, at(13))
	if id, ts := tr.frontier(); id != 16 || !ts.Equal(at(16)) {
		t.Errorf("frontier after filling 13 = %d at %v, want 16 at %v", id, ts, at(16))
	}

	// Threshold 7: xmin 6 keeps the gap, xmin 7 resolves it.
	if n := tr.resolve(6); n != 0 {
		t.Errorf("resolve(6) dropped %d gaps", n)
	}
	if n := tr.resolve(7); n != 1 {
		t.Errorf("resolve(7) dropped %d gaps, want 1", n)
	}
	if id, ts := tr.frontier(); id != 20 || !ts.Equal(at(20)) {
		t.Errorf("frontier with no gaps = %d at %v, want the cursor 20 at %v", id, ts, at(20))
	}
}

func TestTrackerFillSplits(t *testing.T) {
	tr := newTracker(0, at(0), 100)
	tr.advance(10, at(10), 1) // gap 1..9
	tr.fill(5, at(5))
	want := []gap{{lo: 1, hi: 4, until: 1, below: at(0)}, {lo: 6, hi: 9, until: 1, below: at(5)}}
	if len(tr.gaps) != 2 || tr.gaps[0] != want[0] || tr.gaps[1] != want[1] {
		t.Fatalf("gaps = %+v, want %+v", tr.gaps, want)
	}
	tr.fill(1, at(1))
	tr.fill(9, at(9))
	if tr.gaps[0].lo != 2 || tr.gaps[1].hi != 8 {
		t.Fatalf("edge fills: gaps = %+v", tr.gaps)
	}
	lo, hi := tr.gapBounds(nil, nil)
	if len(lo) != 2 || lo[0] != 2 || hi[0] != 4 || lo[1] != 6 || hi[1] != 8 {
		t.Errorf("gapBounds = %v %v", lo, hi)
	}
}

func TestTrackerBound(t *testing.T) {
	tr := newTracker(0, at(0), 2)
	tr.advance(2, at(2), 1) // gap 1
	tr.advance(4, at(4), 1) // gap 3
	if !tr.full() {
		t.Fatal("two gaps with a bound of two: not full")
	}
	if !tr.advance(5, at(5), 1) {
		t.Error("a contiguous row was refused at the bound: it opens no gap")
	}
	if tr.advance(7, at(7), 1) {
		t.Error("a row opening a third gap was accepted")
	}
	if tr.cursor != 5 {
		t.Errorf("cursor moved to %d on a refused row", tr.cursor)
	}
}

func TestSkipsIDs(t *testing.T) {
	c := func(ids ...int64) []change {
		out := make([]change, len(ids))
		for i, id := range ids {
			out[i] = change{id: id}
		}
		return out
	}
	for _, tc := range []struct {
		cursor int64
		ids    []change
		want   bool
	}{
		{5, c(), false},
		{5, c(6, 7, 8), false},
		{5, c(7), true},
		{5, c(6, 8), true},
	} {
		if got := skipsIDs(tc.ids, tc.cursor); got != tc.want {
			t.Errorf("skipsIDs(%v after %d) = %v", tc.ids, tc.cursor, got)
		}
	}
}
