package postgres

import (
	"sort"
	"time"
)

// gap is a run of changelog ids, lo..hi inclusive, that were missing when
// higher ids were already visible: their transactions may still commit.
type gap struct {
	lo, hi int64
	// until is a transaction id (xid8) assigned after the snapshot that
	// found the gap; once no transaction older than it is running
	// (snapshot xmin ≥ until), every writer that could hold one of these
	// ids has finished, and an id still missing never will appear.
	until uint64
	// below is the changed_at of the nearest existing row under lo: the
	// token timestamp while this is the lowest gap.
	below time.Time
}

// tracker is the live stream's position: the highest changelog id read,
// the open gaps below it, and from both the resume frontier. It is pure
// bookkeeping; the queries that feed it are in live.go.
type tracker struct {
	cursor     int64     // highest changelog id read
	cursorTime time.Time // its changed_at
	gaps       []gap     // ascending, disjoint, all below cursor
	maxGaps    int
}

func newTracker(from int64, at time.Time, maxGaps int) tracker {
	return tracker{cursor: from, cursorTime: at, maxGaps: maxGaps}
}

// frontier is the largest id X such that every changelog id ≤ X has been
// read or resolved as rolled back, with the changed_at for X's token.
func (t *tracker) frontier() (int64, time.Time) {
	if len(t.gaps) > 0 {
		return t.gaps[0].lo - 1, t.gaps[0].below
	}
	return t.cursor, t.cursorTime
}

func (t *tracker) token() Token {
	id, at := t.frontier()
	return Token{EventID: id, Timestamp: at}
}

// full reports whether the gap bound is reached: no row that would open a
// new gap may be consumed.
func (t *tracker) full() bool { return len(t.gaps) >= t.maxGaps }

// advance consumes row id (> cursor; rows arrive in ascending order),
// opening a gap for the ids skipped over with threshold until. It returns
// false and changes nothing when that gap would exceed the bound: the
// row is left for a later poll.
func (t *tracker) advance(id int64, at time.Time, until uint64) bool {
	if id <= t.cursor {
		return true // already consumed; cannot happen with id > cursor queries
	}
	if id > t.cursor+1 {
		if t.full() {
			return false
		}
		t.gaps = append(t.gaps, gap{lo: t.cursor + 1, hi: id - 1, until: until, below: t.cursorTime})
	}
	t.cursor, t.cursorTime = id, at
	return true
}

// fill records that id, inside a gap, has committed. It reports whether id
// was in a gap (false: already consumed, and must not be emitted again).
func (t *tracker) fill(id int64, at time.Time) bool {
	i := sort.Search(len(t.gaps), func(i int) bool { return t.gaps[i].hi >= id })
	if i == len(t.gaps) || t.gaps[i].lo > id {
		return false
	}
	g := t.gaps[i]
	var parts []gap
	if id > g.lo {
		parts = append(parts, gap{lo: g.lo, hi: id - 1, until: g.until, below: g.below})
	}
	if id < g.hi {
		parts = append(parts, gap{lo: id + 1, hi: g.hi, until: g.until, below: at})
	}
	t.gaps = append(t.gaps[:i], append(parts, t.gaps[i+1:]...)...)
	return true
}

// resolve drops the gaps whose writers have all finished (xmin ≥ until):
// rolled back, or deleted before anyone read them. Only valid with xmin
// from the snapshot in which the gaps were just looked up in full.
func (t *tracker) resolve(xmin uint64) int {
	kept := t.gaps[:0]
	for _, g := range t.gaps {
		if xmin < g.until {
			kept = append(kept, g)
		}
	}
	dropped := len(t.gaps) - len(kept)
	t.gaps = kept
	return dropped
}

// gapBounds returns the gaps as two parallel arrays for the lookup query.
func (t *tracker) gapBounds(lo, hi []int64) ([]int64, []int64) {
	lo, hi = lo[:0], hi[:0]
	for _, g := range t.gaps {
		lo = append(lo, g.lo)
		hi = append(hi, g.hi)
	}
	return lo, hi
}
