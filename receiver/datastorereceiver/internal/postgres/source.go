package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Row is one inserted health event.
type Row struct {
	ID          string    // health_events.id (a UUID): the event's stable identity
	CreatedAt   time.Time // health_events.created_at
	Document    []byte    // health_events.document as inserted (JSON)
	ChangelogID int64     // datastore_changelog.id of the insert; 0 for a backfill row
	// Token is what to save once this row and every row returned before it
	// have been delivered.
	Token Token
}

// ErrDisconnected marks errors after which the source's connection is
// gone. Next reconnects on its next call. Other errors (a missing table,
// no permission) leave the connection as it was; both may be retried.
var ErrDisconnected = errors.New("postgres connection lost")

// Stats is a snapshot of the source's progress, for metrics.
type Stats struct {
	Backfilling     bool
	BackfillRows    int64 // rows read by the backfill so far
	Cursor          int64 // highest changelog id read by the live stream
	OpenGaps        int   // runs of changelog ids that may still commit
	ResolvedGaps    int64 // runs dropped as rolled back, since Open
	Reconnects      int64
	NotifyWakeups   int64
	FallbackWakeups int64
}

// Source reads inserted health events: first, when configured and no
// token exists, the backfill; then the live changelog stream. Next must
// not be called concurrently with itself or Close; SaveToken and Stats may
// be called from any goroutine.
type Source struct {
	cfg     Config
	logger  *zap.Logger
	connCfg *pgx.ConnConfig
	tokens  tokenSQL

	conn     *pgx.Conn   // LISTEN and all reads; owned by Next
	notified atomic.Bool // a NOTIFY arrived since the last poll began

	backfill *backfill // nil once handed over, or when there is none
	live     live

	tokenMu   sync.Mutex
	tokenConn *pgx.Conn // SaveToken's own connection: Next may be blocked waiting

	statsMu sync.Mutex
	stats   Stats

	gapWarn rate.Sometimes
}

// Open connects, subscribes to the notify channel and loads the resume
// token of cfg.ClientName: with one, the source continues after it (a
// backfill position in it continues the backfill); without one it runs
// the backfill when enabled, or else starts after the changelog's current
// last id.
func Open(ctx context.Context, cfg Config, logger *zap.Logger) (*Source, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	connCfg, err := cfg.connConfig()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	s := &Source{
		cfg:     cfg,
		logger:  logger,
		connCfg: connCfg,
		tokens:  newTokenSQL(cfg),
		live:    live{sql: newLiveSQL(cfg), table: bareName(cfg.HealthEventsTable)},
		gapWarn: rate.Sometimes{Interval: time.Minute},
	}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	if err := s.position(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// position decides where reading starts.
func (s *Source) position(ctx context.Context) error {
	tok, ok, err := s.loadToken(ctx)
	if err != nil {
		return err
	}
	head, headTime, err := s.head(ctx)
	if err != nil {
		return err
	}
	newBF := func() *backfill {
		return newBackfill(s.cfg.Backfill, newBackfillSQL(s.cfg), bareName(s.cfg.HealthEventsTable), s.logger)
	}
	switch {
	case ok && tok.Backfill.Active() && s.cfg.Backfill.Enabled:
		s.backfill = newBF()
		s.backfill.resume(tok)
		s.logger.Info("Resuming backfill", zap.Int64("rows_done", tok.Backfill.Count),
			zap.Time("after", tok.Backfill.CreatedAt), zap.Int64("handover_changelog_id", tok.EventID))
	case ok:
		if tok.Backfill.Active() {
			s.logger.Info("Resume token is from a backfill, but backfill is disabled: continuing with the live stream")
		}
		s.logger.Info("Resuming after changelog id", zap.Int64("changelog_id", tok.EventID))
	case s.cfg.Backfill.Enabled:
		s.backfill = newBF()
	default:
		// "From now on", as NVSentinel without a token. Rows of
		// transactions still running now whose changelog ids are below
		// the current last id count as earlier history and are skipped.
		tok = Token{EventID: head, Timestamp: headTime}
		s.logger.Info("No resume token: starting after the changelog's last id", zap.Int64("changelog_id", head))
	}
	if ok && tok.EventID > head {
		// A restored or recreated database: nothing is read until new
		// ids pass the token. Say so rather than wait in silence.
		s.logger.Warn("Resume token is ahead of the changelog: events are read only above its eventID",
			zap.Int64("token_event_id", tok.EventID), zap.Int64("changelog_last_id", head))
	}
	s.live.t = newTracker(tok.EventID, tok.Timestamp, s.cfg.MaxGaps)
	s.updateStats(nil)
	return nil
}

// head is the changelog's highest visible id and its changed_at (0 and
// the zero time when it is empty).
func (s *Source) head(ctx context.Context) (int64, time.Time, error) {
	var (
		id int64
		at *time.Time
	)
	err := s.conn.QueryRow(ctx, newBackfillSQL(s.cfg).head).Scan(&id, &at)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("read the changelog's last id: %w", err)
	}
	if at == nil {
		return id, time.Time{}, nil
	}
	return id, at.UTC(), nil
}

// Next returns between 1 and max rows. It blocks until there is at least
// one, waking at once on a NOTIFY and every PollInterval regardless, so a
// lost notification costs latency only. Any error other than ctx's may be
// retried: the next call reconnects (ErrDisconnected) and continues from
// the in-memory position. Closing and opening a new Source instead
// continues from the last saved token.
func (s *Source) Next(ctx context.Context, max int) ([]Row, error) {
	if max < 1 {
		return nil, fmt.Errorf("next: max must be at least 1, not %d", max)
	}
	for {
		if s.conn == nil {
			if err := s.connect(ctx); err != nil {
				return nil, err
			}
			s.bump(func(st *Stats) { st.Reconnects++ })
		}
		rows, more, err := s.step(ctx, max)
		if err != nil {
			return nil, s.failed(ctx, err)
		}
		if len(rows) > 0 {
			return rows, nil
		}
		if more {
			continue
		}
		if err := s.wait(ctx); err != nil {
			return nil, s.failed(ctx, err)
		}
	}
}

// step reads once: a backfill page (handing over to the live stream when
// the history is exhausted) or a live poll.
func (s *Source) step(ctx context.Context, max int) ([]Row, bool, error) {
	if b := s.backfill; b != nil {
		rows, done, err := b.next(ctx, s.conn, max, s.cfg.PollInterval)
		if err != nil {
			return nil, false, err
		}
		if !done {
			s.updateStats(b)
			return rows, true, nil
		}
		s.logger.Info("Backfill complete, continuing with the live stream",
			zap.Int64("rows", b.count), zap.Int64("after_changelog_id", b.handover))
		s.live.t = newTracker(b.handover, b.handoverTime, s.cfg.MaxGaps)
		s.backfill = nil
		s.updateStats(nil)
		return nil, true, nil
	}
	s.notified.Store(false)
	res, err := s.live.poll(ctx, s.conn, max)
	if err != nil {
		return nil, false, err
	}
	if s.live.t.full() {
		s.gapWarn.Do(func() {
			lo, _ := s.live.t.frontier()
			s.logger.Warn("Too many changelog ids may still commit: reading paused until their transactions end",
				zap.Int("open_gaps", len(s.live.t.gaps)), zap.Int64("lowest_missing_id", lo+1))
		})
	}
	s.updateStats(nil)
	if res.resolved > 0 {
		s.bump(func(st *Stats) { st.ResolvedGaps += int64(res.resolved) })
	}
	return res.rows, res.more, nil
}

// wait blocks until a NOTIFY arrives, PollInterval passes or ctx is done.
func (s *Source) wait(ctx context.Context) error {
	if s.notified.Swap(false) {
		s.bump(func(st *Stats) { st.NotifyWakeups++ })
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.PollInterval)
	defer cancel()
	err := s.conn.PgConn().WaitForNotification(wctx)
	switch {
	case err == nil:
		s.notified.Store(false)
		s.bump(func(st *Stats) { st.NotifyWakeups++ })
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case wctx.Err() != nil:
		s.bump(func(st *Stats) { st.FallbackWakeups++ })
		return nil
	default:
		return fmt.Errorf("wait for notifications: %w", err)
	}
}

// failed drops the reading connection if the error broke it (Next then
// reconnects on its next call) and marks the error accordingly.
func (s *Source) failed(ctx context.Context, err error) error {
	lost := s.conn == nil || s.conn.IsClosed()
	if lost && s.conn != nil {
		closeQuietly(s.conn)
		s.conn = nil
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case lost:
		return fmt.Errorf("%w: %w", ErrDisconnected, err)
	default:
		return err
	}
}

// connect opens the reading connection and LISTENs on the notify channel.
// A NOTIFY only sets a flag: with thousands of inserts a second, pgx's
// default of queueing every notification would grow without bound.
func (s *Source) connect(ctx context.Context) error {
	cc := s.connCfg.Copy()
	cc.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		if n.Channel == s.cfg.NotifyChannel {
			s.notified.Store(true)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("%w: connect to %s:%d: %w", ErrDisconnected, cc.Host, cc.Port, err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.cfg.NotifyChannel}.Sanitize()); err != nil {
		closeQuietly(conn)
		return fmt.Errorf("%w: listen on %q: %w", ErrDisconnected, s.cfg.NotifyChannel, err)
	}
	s.conn = conn
	return nil
}

// loadToken reads the resume token from the TokenStore or the table.
func (s *Source) loadToken(ctx context.Context) (Token, bool, error) {
	if s.cfg.TokenStore == nil {
		return s.tokens.loadToken(ctx, s.conn, s.cfg.ClientName)
	}
	raw, err := s.cfg.TokenStore.Load(ctx)
	if err != nil || raw == nil {
		return Token{}, false, err
	}
	t, err := decodeToken(raw)
	if err != nil {
		return Token{}, false, fmt.Errorf("resume token in storage: %w", err)
	}
	return t, true, nil
}

// SaveToken stores t as ClientName's resume token (in the TokenStore, if
// set). It has its own connection, so it can run while Next waits.
func (s *Source) SaveToken(ctx context.Context, t Token) error {
	if s.cfg.TokenStore != nil {
		b, err := encodeToken(t)
		if err != nil {
			return fmt.Errorf("encode resume token: %w", err)
		}
		return s.cfg.TokenStore.Save(ctx, b)
	}
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	if s.tokenConn == nil {
		conn, err := pgx.ConnectConfig(ctx, s.connCfg.Copy())
		if err != nil {
			return fmt.Errorf("%w: connect to save the resume token: %w", ErrDisconnected, err)
		}
		s.tokenConn = conn
	}
	if err := s.tokens.saveToken(ctx, s.tokenConn, s.cfg.ClientName, t); err != nil {
		if s.tokenConn.IsClosed() {
			s.tokenConn = nil
			return fmt.Errorf("%w: %w", ErrDisconnected, err)
		}
		return err
	}
	return nil
}

// Stats reports progress; safe from any goroutine.
func (s *Source) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}

// Close closes the connections. The source must not be used afterwards.
func (s *Source) Close() error {
	if s.conn != nil {
		closeQuietly(s.conn)
		s.conn = nil
	}
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	if s.tokenConn != nil {
		closeQuietly(s.tokenConn)
		s.tokenConn = nil
	}
	return nil
}

func (s *Source) updateStats(b *backfill) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Backfilling = b != nil || s.backfill != nil
	if b != nil {
		s.stats.BackfillRows = b.count
	}
	s.stats.Cursor = s.live.t.cursor
	s.stats.OpenGaps = len(s.live.t.gaps)
}

func (s *Source) bump(f func(*Stats)) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	f(&s.stats)
}

func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
