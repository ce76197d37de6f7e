package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
)

// TestServerRestart: the server goes down and comes back while rows are
// being inserted. Next reports the lost connection, reconnects on the
// next call (LISTEN again) and continues from memory: every row whose
// insert was acknowledged arrives, none twice. A source reopened on the
// last token then continues from there.
func TestServerRestart(t *testing.T) {
	s := pgtest.Start(t)
	dsn := s.NewDB(t)
	cfg := Config{DSN: dsn, PollInterval: 50 * time.Millisecond}
	src := open(t, cfg)

	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() { // the platform connector: keeps inserting, reconnecting as needed
		defer close(done)
		var conn *pgx.Conn
		defer func() {
			if conn != nil {
				closeQuietly(conn)
			}
		}()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if conn == nil {
				c, err := pgx.Connect(ctx, dsn)
				if err != nil {
					cancel()
					continue
				}
				conn = c
			}
			id, err := pgtest.InsertHealthEvent(ctx, conn, pgtest.SampleEvent(fmt.Sprintf("node-%d", i)))
			cancel()
			if err != nil {
				closeQuietly(conn)
				conn = nil
				continue
			}
			mu.Lock()
			acked[id] = true
			mu.Unlock()
		}
	}()

	seen := map[string]int{}
	var last Row
	disconnects := 0
	restarted := false
	ctx := testCtx(t, 2*time.Minute)
	for {
		mu.Lock()
		n, missing := len(acked), 0
		for id := range acked {
			if seen[id] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if !restarted && len(seen) >= 100 {
			s.Restart(t)
			restarted = true
		}
		if restarted && n >= 400 && stop != nil {
			close(stop)
			<-done
			stop = nil
		}
		if stop == nil && missing == 0 {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		rows, err := src.Next(rctx, 50)
		cancel()
		switch {
		case errors.Is(err, ErrDisconnected):
			disconnects++
			time.Sleep(50 * time.Millisecond)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		case err != nil:
			t.Fatalf("Next: %v", err)
		}
		for _, r := range rows {
			seen[r.ID]++
			if seen[r.ID] > 1 {
				t.Errorf("row %s delivered twice", r.ID)
			}
			last = r
		}
	}
	if disconnects == 0 {
		t.Error("the restart went unnoticed: Next never reported ErrDisconnected")
	}
	if st := src.Stats(); st.Reconnects == 0 {
		t.Errorf("stats %+v: no reconnect", st)
	}
	t.Logf("%d rows acknowledged, %d delivered, %d disconnect errors", len(acked), len(seen), disconnects)

	if err := src.SaveToken(ctx, last.Token); err != nil {
		t.Fatal(err)
	}
	_ = src.Close()
	conn := connect(t, dsn)
	next := insert(t, conn, "after")
	again := open(t, cfg)
	rows := collect(t, again, 1, 20*time.Second)
	for rows[0].ID != next && seen[rows[0].ID] > 0 { // rows after a still-open gap may repeat
		rows = collect(t, again, 1, 20*time.Second)
	}
	if rows[0].ID != next {
		t.Fatalf("reopened on the last token: got %s, want %s", rows[0].ID, next)
	}
}
