// Package backlog holds what the two providers' backfills share: their
// configuration and the pace at which they hand out history.
package backlog

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// Config is the history export that runs when no resume token exists.
type Config struct {
	Enabled   bool
	MaxAge    time.Duration // only events created at most this long ago; 0: no age limit
	MaxEvents int           // at most this many, the most recent ones; 0: no limit
	BatchSize int           // rows per query
	RateLimit float64       // events per second; 0: as fast as they are consumed
}

// Pacer hands out rows no faster than a rate. The zero value does not
// limit.
type Pacer struct{ limiter *rate.Limiter }

// NewPacer returns a pacer of rateLimit rows/s (0: no limit). Its burst is
// a tenth of a second's rows (at most batchSize): rows go out in small
// groups, yet the long-run rate holds to within a group.
func NewPacer(rateLimit float64, batchSize int) Pacer {
	if rateLimit <= 0 {
		return Pacer{}
	}
	burst := max(1, min(int(rateLimit/10), batchSize))
	return Pacer{limiter: rate.NewLimiter(rate.Limit(rateLimit), burst)}
}

// Take removes up to max rows from the front of *buf, once the rate allows
// them, and returns them.
func Take[T any](ctx context.Context, p Pacer, buf *[]T, max int) ([]T, error) {
	n := min(max, len(*buf))
	if p.limiter != nil {
		n = min(n, p.limiter.Burst())
		if err := p.limiter.WaitN(ctx, n); err != nil {
			return nil, fmt.Errorf("backfill rate limit: %w", err)
		}
	}
	rows := (*buf)[:n:n]
	*buf = (*buf)[n:]
	return rows, nil
}
