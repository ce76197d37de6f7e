package structuredlog

import (
	"encoding/binary"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func genIDs(t *testing.T, g *idGenerator, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		b, err := g.appendID(nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = string(b)
	}
	return ids
}

func newGen(t *testing.T, typ IDType, mode IDMode, start uint64) *idGenerator {
	t.Helper()
	g, err := newIDGenerator(typ, mode, start)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func checkUnique(t *testing.T, ids []string) {
	t.Helper()
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestUUIDSequentialSorts(t *testing.T) {
	ids := genIDs(t, newGen(t, IDTypeUUID, IDModeSequential, 0), 10000)
	for i, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil || !uuidPattern.MatchString(id) || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("id %q: not a v7 UUID (%v)", id, err)
		}
		if i > 0 && id <= ids[i-1] {
			t.Fatalf("id %d %s does not sort after %s", i, id, ids[i-1])
		}
	}
}

func TestUUIDRandom(t *testing.T) {
	ids := genIDs(t, newGen(t, IDTypeUUID, IDModeRandom, 0), 10000)
	for _, id := range ids {
		if u, err := uuid.Parse(id); err != nil || !uuidPattern.MatchString(id) || u.Version() != 4 {
			t.Fatalf("id %q: not a v4 UUID (%v)", id, err)
		}
	}
	checkUnique(t, ids)
	if slices.IsSorted(ids) {
		t.Fatal("random ids came out sorted")
	}
}

func TestUUIDFastSequential(t *testing.T) {
	g := newGen(t, "", "", 0) // the defaults
	if g.kind != idUUIDFast {
		t.Fatalf("default kind %d, want uuid fast-sequential", g.kind)
	}
	ids := genIDs(t, g, 10000)
	checkUnique(t, ids)
	var prev [2]uint64
	for i, id := range ids {
		if !uuidPattern.MatchString(id) {
			t.Fatalf("id %q is not a UUID", id)
		}
		b, _ := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
		lo, hi := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
		if i > 0 && !(hi == prev[1] && lo == prev[0]+1 || hi == prev[1]+1 && lo == 0 && prev[0] == ^uint64(0)) {
			t.Fatalf("id %d %s is not the previous one plus one in memory order", i, id)
		}
		prev = [2]uint64{lo, hi}
	}

	// The 128-bit counter carries from the low into the high half.
	g = &idGenerator{kind: idUUIDFast, lo: ^uint64(0), hi: 5}
	ids = genIDs(t, g, 2)
	if ids[0] != "ffffffff-ffff-ffff-0500-000000000000" || ids[1] != "00000000-0000-0000-0600-000000000000" {
		t.Fatalf("carry: %v", ids)
	}
}

func TestUint64IDs(t *testing.T) {
	for _, mode := range []IDMode{IDModeSequential, IDModeFastSequential} {
		ids := genIDs(t, newGen(t, IDTypeUint64, mode, 0), 10000)
		first, err := strconv.ParseUint(ids[0], 10, 64)
		if err != nil || first == 0 || first > 1<<62 {
			t.Fatalf("%s: first id %q", mode, ids[0])
		}
		for i, id := range ids {
			if n, err := strconv.ParseUint(id, 10, 64); err != nil || n != first+uint64(i) || strconv.FormatUint(n, 10) != id {
				t.Fatalf("%s: id %d is %q, want %d", mode, i, id, first+uint64(i))
			}
		}
		if got := genIDs(t, newGen(t, IDTypeUint64, mode, 7), 3); !slices.Equal(got, []string{"7", "8", "9"}) {
			t.Fatalf("%s from 7: %v", mode, got)
		}
	}
	ids := genIDs(t, newGen(t, IDTypeUint64, IDModeRandom, 0), 10000)
	for _, id := range ids {
		if n, err := strconv.ParseUint(id, 10, 64); err != nil || strconv.FormatUint(n, 10) != id {
			t.Fatalf("random id %q is not a decimal uint64", id)
		}
	}
	checkUnique(t, ids)
}

// TestIDsConcurrent shares one generator per kind between goroutines; run
// with -race. Counting kinds must still hand out each id exactly once.
func TestIDsConcurrent(t *testing.T) {
	for _, c := range []struct {
		typ  IDType
		mode IDMode
	}{
		{IDTypeUUID, IDModeFastSequential}, {IDTypeUUID, IDModeSequential}, {IDTypeUUID, IDModeRandom},
		{IDTypeUint64, IDModeSequential}, {IDTypeUint64, IDModeRandom},
	} {
		g := newGen(t, c.typ, c.mode, 0)
		const workers, each = 4, 1000
		out := make([][]string, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() { out[i] = genIDs(t, g, each) })
		}
		wg.Wait()
		all := slices.Concat(out...)
		checkUnique(t, all)
		if c.mode == IDModeSequential {
			for _, ids := range out { // each goroutine sees its ids increase
				for i := 1; i < len(ids); i++ {
					if c.typ == IDTypeUUID && ids[i] <= ids[i-1] {
						t.Fatalf("%s %s: %s after %s", c.typ, c.mode, ids[i], ids[i-1])
					}
				}
			}
		}
	}
}

func TestParseIDOptions(t *testing.T) {
	for s, want := range map[string]IDType{"UUID": IDTypeUUID, " uint64": IDTypeUint64} {
		if got, err := ParseIDType(s); err != nil || got != want {
			t.Errorf("ParseIDType(%q) = %q, %v", s, got, err)
		}
	}
	for s, want := range map[string]IDMode{"Fast-Sequential": IDModeFastSequential, "sequential": IDModeSequential, "RANDOM": IDModeRandom} {
		if got, err := ParseIDMode(s); err != nil || got != want {
			t.Errorf("ParseIDMode(%q) = %q, %v", s, got, err)
		}
	}
	if g := newGen(t, "UUID", "Sequential", 0); g.kind != idUUIDSequential {
		t.Errorf("Options spelled in upper case give kind %d", g.kind)
	}
	if _, err := ParseIDType("int"); err == nil {
		t.Error("ParseIDType(int) succeeded")
	}
	if _, err := ParseIDMode("fast"); err == nil {
		t.Error("ParseIDMode(fast) succeeded")
	}
}
