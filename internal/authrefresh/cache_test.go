package authrefresh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// source is a token source for the tests: token n is "tok-n".
type source struct {
	calls   atomic.Int32
	fail    atomic.Int32 // fail this many more fetches
	delay   time.Duration
	life    time.Duration // 0 = no expiry
	release chan struct{} // when set, each fetch waits for it
}

func (s *source) fetch(ctx context.Context) (Token, error) {
	n := s.calls.Add(1)
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if s.fail.Load() > 0 {
		s.fail.Add(-1)
		return Token{}, &FetchError{Reason: ReasonUnreachable, Err: errors.New("token source down")}
	}
	tok := Token{Value: fmt.Sprintf("tok-%d", n)}
	if s.life > 0 {
		tok.Expiry = time.Now().Add(s.life)
	}
	return tok, nil
}

func newTestCache(t *testing.T, s *source, mod func(*Settings)) *Cache {
	t.Helper()
	set := Settings{
		Fetch:          s.fetch,
		Timeout:        5 * time.Second,
		ExpiryBuffer:   time.Minute,
		InitialBackoff: 20 * time.Millisecond,
		MaxBackoff:     100 * time.Millisecond,
	}
	if mod != nil {
		mod(&set)
	}
	c := NewCache(set)
	t.Cleanup(c.Close)
	return c
}

func mustToken(t *testing.T, c *Cache) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSingleFlight(t *testing.T) {
	s := &source{release: make(chan struct{})}
	c := newTestCache(t, s, nil)
	var wg sync.WaitGroup
	got := make([]string, 100)
	for i := range got {
		wg.Go(func() { got[i] = mustToken(t, c) })
	}
	eventually(t, "the first fetch", func() bool { return s.calls.Load() == 1 })
	close(s.release)
	wg.Wait()
	for i, tok := range got {
		if tok != "tok-1" {
			t.Fatalf("request %d got %q, want tok-1", i, tok)
		}
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d fetches for 100 concurrent requests, want 1", n)
	}
}

func TestRefreshBeforeExpiryDoesNotBlock(t *testing.T) {
	// life 4s, buffer capped to half: refresh from 2s on.
	s := &source{life: 4 * time.Second}
	c := newTestCache(t, s, nil)
	if tok := mustToken(t, c); tok != "tok-1" {
		t.Fatalf("got %q", tok)
	}
	time.Sleep(2100 * time.Millisecond)
	s.release = make(chan struct{}) // the background fetch now hangs
	if tok := mustToken(t, c); tok != "tok-1" {
		t.Fatalf("in the refresh window got %q, want the current tok-1 without waiting", tok)
	}
	eventually(t, "background fetch", func() bool { return s.calls.Load() == 2 })
	if tok := mustToken(t, c); tok != "tok-1" {
		t.Fatalf("got %q", tok)
	}
	close(s.release)
	eventually(t, "the refreshed token", func() bool { return mustToken(t, c) == "tok-2" })
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestNoExpiryRefreshInterval(t *testing.T) {
	s := &source{}
	c := newTestCache(t, s, func(set *Settings) { set.RefreshInterval = 50 * time.Millisecond })
	mustToken(t, c)
	eventually(t, "periodic re-fetch", func() bool { return mustToken(t, c) != "tok-1" })

	s2 := &source{}
	c2 := newTestCache(t, s2, nil) // no interval: kept until invalidated
	mustToken(t, c2)
	time.Sleep(50 * time.Millisecond)
	if tok := mustToken(t, c2); tok != "tok-1" || s2.calls.Load() != 1 {
		t.Fatalf("token without expiry and interval was re-fetched: %q after %d fetches", tok, s2.calls.Load())
	}
}

func TestWaitsThroughFailures(t *testing.T) {
	s := &source{}
	s.fail.Store(4)
	c := newTestCache(t, s, nil)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if tok := mustToken(t, c); tok != "tok-5" {
				t.Errorf("got %q, want tok-5", tok)
			}
		})
	}
	wg.Wait()
	if n := s.calls.Load(); n != 5 {
		t.Fatalf("%d fetches for 4 failures and a success, want 5 (one per attempt, not per request)", n)
	}
}

func TestContextEndsWait(t *testing.T) {
	s := &source{}
	s.fail.Store(1 << 20)
	c := newTestCache(t, s, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := c.Token(ctx)
	if !errors.Is(err, ErrNoToken) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrNoToken and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "token source down") {
		t.Fatalf("error %q does not say why the last refresh failed", err)
	}
	if n := s.calls.Load(); n < 1 || n > 10 {
		t.Fatalf("%d fetches in 150ms with 20–100ms backoff", n)
	}
}

func TestExpiredTokenIsAFailure(t *testing.T) {
	var calls atomic.Int32
	c := newTestCache(t, nil, func(set *Settings) {
		set.Fetch = func(context.Context) (Token, error) {
			if calls.Add(1) == 1 {
				return Token{Value: "old", Expiry: time.Now().Add(-time.Hour)}, nil
			}
			return Token{Value: "new", Expiry: time.Now().Add(time.Hour)}, nil
		}
	})
	if tok := mustToken(t, c); tok != "new" {
		t.Fatalf("got %q", tok)
	}
}

func TestInvalidateKeyedByToken(t *testing.T) {
	s := &source{}
	c := newTestCache(t, s, nil)
	old := mustToken(t, c)
	c.InvalidateToken("something else")
	if tok := mustToken(t, c); tok != old {
		t.Fatalf("invalidating another token changed the cached one to %q", tok)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { c.InvalidateToken(old) })
	}
	wg.Wait()
	if tok := mustToken(t, c); tok != "tok-2" {
		t.Fatalf("got %q, want tok-2", tok)
	}
	c.InvalidateToken(old) // late: already refreshed
	if tok := mustToken(t, c); tok != "tok-2" || s.calls.Load() != 2 {
		t.Fatalf("got %q after %d fetches, want tok-2 after 2", tok, s.calls.Load())
	}
}

func TestRepeatedRejectionsBackOff(t *testing.T) {
	s := &source{}
	c := newTestCache(t, s, func(set *Settings) {
		set.InitialBackoff = time.Hour // visible in notBefore, never waited for
		set.MaxBackoff = 2 * time.Hour
	})
	inBackoff := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return time.Now().Before(c.notBefore)
	}
	tok := mustToken(t, c)
	c.InvalidateToken(tok)
	if inBackoff() {
		t.Fatal("the first rejection after an accepted token must refresh at once")
	}
	tok = mustToken(t, c)
	c.InvalidateToken(tok)
	if !inBackoff() {
		t.Fatal("a second rejection in a row must back off")
	}
	if tok2 := mustTokenWithin(t, c, 50*time.Millisecond); tok2 != "" {
		t.Fatalf("got %q during the backoff", tok2)
	}

	// An accepted request resets the count.
	c2 := newTestCache(t, &source{}, func(set *Settings) { set.InitialBackoff = time.Hour; set.MaxBackoff = 2 * time.Hour })
	tok = mustToken(t, c2)
	c2.InvalidateToken(tok)
	tok = mustToken(t, c2)
	c2.accepted(tok)
	c2.InvalidateToken(tok)
	mustToken(t, c2)
}

// mustTokenWithin returns the token, or "" when none came within d.
func mustTokenWithin(t *testing.T, c *Cache, d time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tok, err := c.Token(ctx)
	if err != nil && !errors.Is(err, ErrNoToken) {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func TestCloseEndsWaiters(t *testing.T) {
	s := &source{release: make(chan struct{})}
	c := NewCache(Settings{Fetch: s.fetch, Timeout: time.Minute})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Token(context.Background())
		errc <- err
	}()
	eventually(t, "fetch started", func() bool { return s.calls.Load() == 1 })
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if _, err := c.Token(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close got %v", err)
	}
	c.Close()
}
