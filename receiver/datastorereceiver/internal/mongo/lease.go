package mongo

import (
	"context"
	"errors"
	"time"
)

// lease is the stored lease: who holds it and a version that every
// renewal, takeover and release increments. An empty Holder means free.
type lease struct {
	Holder  string
	Version int64
}

// leaseStore is where the lease lives: a document in MongoDB (mongoLeases),
// or memory in tests. swap is a compare-and-swap on (Holder, Version).
type leaseStore interface {
	load(ctx context.Context) (l lease, found bool, err error)
	create(ctx context.Context, l lease) (ok bool, err error)
	swap(ctx context.Context, old, new lease) (ok bool, err error)
}

// elector is the lease state machine of one contender, apart from time
// and storage so that it can be tested alone. It never compares clocks of
// two machines: a standby times how long the lease it observes stays
// unchanged on its own monotonic clock, as Kubernetes' leader election
// does, and takes it over with a compare-and-swap once that reaches
// duration. The holder renews every renew interval and gives up on its
// own once duration − renew has passed since the start of its last
// successful renewal: before any standby can have seen the lease
// unchanged for duration (a standby starts timing a version only after it
// has read it, so after the holder began writing it).
type elector struct {
	id       string
	duration time.Duration // a lease unchanged this long is taken over
	renew    time.Duration // how often the holder renews (and a standby looks)

	// Standby side: the lease last observed and when it was first seen
	// in that state.
	seen   lease
	seenAt time.Time
	seeing bool

	// Holder side.
	held      lease
	renewedAt time.Time // start of the last successful write of held
}

// errLeaseLost is returned by renewLease when the lease is no longer ours.
var errLeaseLost = errors.New("lease lost")

// tryAcquire makes one attempt; it reports whether this contender now
// holds the lease.
func (e *elector) tryAcquire(ctx context.Context, st leaseStore, now func() time.Time) (bool, error) {
	start := now()
	cur, found, err := st.load(ctx)
	if err != nil {
		return false, err
	}
	observed := now()
	var take bool
	switch {
	case !found:
		next := lease{Holder: e.id, Version: 1}
		ok, err := st.create(ctx, next)
		if err != nil || !ok {
			return false, err
		}
		e.won(next, start)
		return true, nil
	case cur.Holder == "" || cur.Holder == e.id:
		// Free (released), or ours from an attempt whose answer was lost.
		take = true
	case !e.seeing || cur != e.seen:
		e.seen, e.seenAt, e.seeing = cur, observed, true
	case observed.Sub(e.seenAt) >= e.duration:
		take = true
	}
	if !take {
		return false, nil
	}
	next := lease{Holder: e.id, Version: cur.Version + 1}
	ok, err := st.swap(ctx, cur, next)
	if err != nil || !ok {
		return false, err
	}
	e.won(next, start)
	return true, nil
}

func (e *elector) won(l lease, at time.Time) {
	e.held, e.renewedAt, e.seeing = l, at, false
}

// deadline is when the holder must consider the lease lost unless it
// renews before.
func (e *elector) deadline() time.Time {
	return e.renewedAt.Add(e.duration - e.renew)
}

// renewLease renews once. errLeaseLost means the lease is gone: taken
// over, or not renewed in time; other errors are worth another try at the
// next interval.
func (e *elector) renewLease(ctx context.Context, st leaseStore, now func() time.Time) error {
	start := now()
	if !start.Before(e.deadline()) {
		return errLeaseLost
	}
	ctx, cancel := context.WithDeadline(ctx, e.deadline())
	defer cancel()
	next := lease{Holder: e.id, Version: e.held.Version + 1}
	ok, err := st.swap(ctx, e.held, next)
	switch {
	case err != nil:
		if !now().Before(e.deadline()) {
			return errLeaseLost
		}
		return err
	case !ok:
		return errLeaseLost
	}
	e.held, e.renewedAt = next, start
	return nil
}

// release frees the lease if it is still ours.
func (e *elector) release(ctx context.Context, st leaseStore) error {
	_, err := st.swap(ctx, e.held, lease{Version: e.held.Version + 1})
	e.held = lease{}
	return err
}
