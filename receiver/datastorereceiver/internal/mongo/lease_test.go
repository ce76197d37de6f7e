package mongo

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// memLeases is a lease store in memory; fail makes every call fail.
type memLeases struct {
	mu    sync.Mutex
	l     lease
	found bool
	fail  bool
}

var errUnreachable = errors.New("unreachable")

func (m *memLeases) load(context.Context) (lease, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return lease{}, false, errUnreachable
	}
	return m.l, m.found, nil
}

func (m *memLeases) create(_ context.Context, l lease) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return false, errUnreachable
	}
	if m.found {
		return false, nil
	}
	m.l, m.found = l, true
	return true, nil
}

func (m *memLeases) swap(_ context.Context, old, new lease) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return false, errUnreachable
	}
	if !m.found || m.l != old {
		return false, nil
	}
	m.l = new
	return true, nil
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newElector(id string) *elector {
	return &elector{id: id, duration: 10 * time.Second, renew: 2 * time.Second}
}
func acquire(t *testing.T, e *elector, st leaseStore, c *fakeClock) bool {
	t.Helper()
	ok, err := e.tryAcquire(context.Background(), st, c.now)
	if err != nil && !errors.Is(err, errUnreachable) {
		t.Fatal(err)
	}
	return ok
}

func TestLeaseTakeoverAfterLeaderDies(t *testing.T) {
	st, c := &memLeases{}, &fakeClock{t: time.Unix(1000, 0)}
	a, b := newElector("a"), newElector("b")
	if !acquire(t, a, st, c) {
		t.Fatal("first contender did not get a free lease")
	}
	// While a renews, b never takes over.
	for range 20 {
		if acquire(t, b, st, c) {
			t.Fatal("standby took over a renewed lease")
		}
		c.add(2 * time.Second)
		if err := a.renewLease(context.Background(), st, c.now); err != nil {
			t.Fatal(err)
		}
	}
	// a dies (kill -9): b takes over once it has seen the lease unchanged
	// for the lease duration, looking every renew interval.
	died := c.now()
	for !acquire(t, b, st, c) {
		c.add(2 * time.Second)
		if c.now().Sub(died) > 15*time.Second {
			t.Fatal("no takeover within 15 s")
		}
	}
	if since := c.now().Sub(died); since < 10*time.Second {
		t.Fatalf("takeover after %v, before the lease duration", since)
	}
	// a, were it only paused, learns it lost the lease.
	if err := a.renewLease(context.Background(), st, c.now); !errors.Is(err, errLeaseLost) {
		t.Fatalf("old leader renewal: %v, want errLeaseLost", err)
	}
}

func TestLeaseHolderGivesUpWhenCutOff(t *testing.T) {
	st, c := &memLeases{}, &fakeClock{t: time.Unix(1000, 0)}
	a := newElector("a")
	acquire(t, a, st, c)
	st.fail = true
	start := c.now()
	var err error
	for err == nil || errors.Is(err, errUnreachable) {
		c.add(time.Second)
		err = a.renewLease(context.Background(), st, c.now)
	}
	if !errors.Is(err, errLeaseLost) {
		t.Fatal(err)
	}
	if gaveUp := c.now().Sub(start); gaveUp > 8*time.Second {
		t.Errorf("gave up after %v, want by duration − renew (8 s)", gaveUp)
	}
}

func TestLeaseRelease(t *testing.T) {
	st, c := &memLeases{}, &fakeClock{t: time.Unix(1000, 0)}
	a, b := newElector("a"), newElector("b")
	acquire(t, a, st, c)
	if acquire(t, b, st, c) {
		t.Fatal("b took a held lease")
	}
	if err := a.release(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if !acquire(t, b, st, c) {
		t.Fatal("b did not take a released lease at once")
	}
	if err := a.renewLease(context.Background(), st, c.now); !errors.Is(err, errLeaseLost) {
		t.Fatalf("renewal after release: %v", err)
	}
}

// TestLeaseNeverTwoLeaders simulates three contenders on one clock whose
// store calls fail at random and who pause at random (a GC pause, a
// stopped container), and checks that at no instant two of them both
// believe they lead, that is hold a lease whose deadline has not passed.
func TestLeaseNeverTwoLeaders(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	st, c := &memLeases{}, &fakeClock{t: time.Unix(1000, 0)}
	type contender struct {
		e       *elector
		leading bool
		wakeAt  time.Time
	}
	cs := []*contender{{e: newElector("a")}, {e: newElector("b")}, {e: newElector("c")}}
	takeovers := 0
	for step := range 20_000 {
		c.add(time.Duration(r.IntN(500)) * time.Millisecond)
		st.fail = r.IntN(10) == 0
		for _, x := range cs {
			if c.now().Before(x.wakeAt) {
				continue
			}
			if r.IntN(200) == 0 {
				x.wakeAt = c.now().Add(time.Duration(r.IntN(30)) * time.Second) // paused
				continue
			}
			if x.leading {
				if err := x.e.renewLease(context.Background(), st, c.now); errors.Is(err, errLeaseLost) {
					x.leading = false
				}
			} else if acquire(t, x.e, st, c) {
				x.leading = true
				takeovers++
			}
			x.wakeAt = c.now().Add(x.e.renew)
		}
		believers := 0
		for _, x := range cs {
			if x.leading && c.now().Before(x.e.deadline()) {
				believers++
			}
		}
		if believers > 1 {
			t.Fatalf("step %d: %d contenders believe they lead", step, believers)
		}
	}
	if takeovers < 10 {
		t.Errorf("only %d takeovers: the simulation did not exercise failover", takeovers)
	}
}
