package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.uber.org/zap"
)

// Row is one inserted health event.
type Row struct {
	ID        string    // the document's _id: hex of an ObjectId; the event's stable identity
	CreatedAt time.Time // the document's createdAt; zero when it has none
	Document  bson.Raw  // the whole document, as inserted; not necessarily a health event
	// Token is what to save once this row and every row returned before it
	// have been delivered.
	Token Token
}

// Stats is a snapshot of the source's progress, for metrics.
type Stats struct {
	Backfilling   bool
	BackfillRows  int64     // rows read by the current (or last) backfill
	Recoveries    int64     // unusable resume tokens recovered from by a backfill, since Open
	Duplicates    int64     // live events skipped because the backfill had returned them
	Reopens       int64     // change stream reopened after an error, since Open
	LastEventTime time.Time // cluster time of the last live event read: lag is now minus this
}

// dedupCapacity bounds the ids of backfill rows the live stream checks
// its first events against.
const dedupCapacity = 10_000

// Source reads inserted health events: first, when configured and no
// token exists, the backfill; then the change stream. Next must not be
// called concurrently with itself or Close; SaveToken and Stats may be
// called from any goroutine.
type Source struct {
	cfg    Config
	logger *zap.Logger
	client *mongo.Client
	hosts  string
	events *mongo.Collection
	tokens tokenStore
	hist   history

	cs       *mongo.ChangeStream // nil: Next reopens it after pos
	pos      bson.Raw            // resume token after the last live row returned, or the handover
	opened   bool                // a stream has been open: a new one is a reopen
	backfill *backfill           // nil when none runs

	// Backfill rows that may also come through the stream, until the
	// stream's cluster time passes dedupUntil.
	dedup      *recentIDs
	dedupUntil time.Time

	mu        sync.Mutex // guards delivered and stats
	delivered time.Time  // CreatedAt of the last token saved (or loaded): the last delivered event's
	stats     Stats
}

// Open connects and loads the resume token of cfg.ClientName: with one,
// the source continues after it (continuing a backfill the token records);
// without one it runs the backfill when enabled, or else starts from now.
// A server without change streams makes Open fail with ErrNoChangeStreams.
func Open(ctx context.Context, cfg Config, logger *zap.Logger) (*Source, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.clientOptions()
	if err != nil {
		return nil, err
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, redactErr(fmt.Errorf("connect to %s: %w", hosts(opts), err), cfg.URI)
	}
	db := client.Database(cfg.Database)
	// Primary and majority: the backfill/stream handover relies on the
	// backfill's queries seeing every document the stream's start follows.
	consistent := options.Collection().
		SetReadPreference(readpref.Primary()).
		SetReadConcern(readconcern.Majority()).
		SetWriteConcern(writeconcern.Majority())
	s := &Source{
		cfg:    cfg,
		logger: logger,
		client: client,
		hosts:  hosts(opts),
		events: db.Collection(cfg.Collection, consistent),
		tokens: tokens{coll: db.Collection(cfg.TokenCollection, consistent), client: cfg.ClientName},
		dedup:  newRecentIDs(dedupCapacity),
	}
	s.hist = collHistory{coll: s.events}
	if cfg.TokenStore != nil {
		s.tokens = externalTokens{store: cfg.TokenStore}
	}
	if err := s.position(ctx); err != nil {
		_ = s.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, redactErr(err, cfg.URI)
	}
	s.updateStats()
	return s, nil
}

// position decides where reading starts.
func (s *Source) position(ctx context.Context) error {
	st, found, err := s.tokens.load(ctx)
	if err != nil {
		return err
	}
	switch {
	case found:
		s.pos = st.ResumeToken
		s.delivered = st.CreatedAt
		if !st.Fresh {
			s.logger.Info("Resuming from a resume token written by another exporter", zap.String("client", s.cfg.ClientName))
		}
		if st.Fresh && st.Backfill.Active {
			s.logger.Info("Resuming backfill", zap.Int64("rows_done", st.Backfill.Count),
				zap.Time("after", st.Backfill.CreatedAt), zap.Time("until", st.Backfill.Until))
			s.backfill = newBackfill(s.cfg.Backfill, s.hist, st.ResumeToken, st.Backfill, s.dedup)
		}
		// Opening the stream now checks the token and the server at once.
		return s.resumeStream(ctx)
	case s.cfg.Backfill.Enabled:
		var from time.Time
		if s.cfg.Backfill.MaxAge > 0 {
			from = time.Now().Add(-s.cfg.Backfill.MaxAge).UTC()
		}
		return s.startBackfill(ctx, from, int64(s.cfg.Backfill.MaxEvents), true)
	default:
		// From now on, as NVSentinel without a token; but the start is
		// saved at once, so that a crash before the first delivery does
		// not move it to a later "now".
		cs, tok, err := s.startStream(ctx)
		if err != nil {
			return err
		}
		s.cs, s.pos = cs, tok
		s.logger.Info("No resume token: starting with the events inserted from now on", zap.String("client", s.cfg.ClientName))
		return s.checkpoint(ctx, Token{ResumeToken: tok, CreatedAt: tokenTime(tok)})
	}
}

// startBackfill opens the live stream, keeps its start as the handover
// token, and only then plans the backfill: every document inserted before
// the handover exists when the plan is made. checkpoint saves the start
// (a first backfill: no row is in flight whose token could be lost).
func (s *Source) startBackfill(ctx context.Context, from time.Time, limit int64, checkpoint bool) error {
	cs, handover, err := s.startStream(ctx)
	if err != nil {
		return err
	}
	pos, ok, err := planBackfill(ctx, s.hist, from, limit)
	if err != nil {
		_ = cs.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("start backfill: %w", err)
	}
	s.closeStream(ctx)
	s.cs, s.pos = cs, handover
	s.dedup.clear()
	s.dedupUntil = time.Time{}
	s.backfill = nil
	tok := Token{ResumeToken: handover, CreatedAt: tokenTime(handover)}
	if ok {
		s.backfill = newBackfill(s.cfg.Backfill, s.hist, handover, pos, s.dedup)
		tok = Token{ResumeToken: handover, CreatedAt: pos.CreatedAt, Backfill: pos}
		s.logger.Info("Backfill started", zap.Time("from", pos.CreatedAt), zap.Time("until", pos.Until),
			zap.Int64("max_events", limit))
	} else {
		s.logger.Info("Backfill: no events to export, continuing with the live stream", zap.Time("from", from))
	}
	s.updateStats()
	if checkpoint {
		return s.checkpoint(ctx, tok)
	}
	return nil
}

// checkpoint saves a start position that no delivery precedes.
func (s *Source) checkpoint(ctx context.Context, t Token) error {
	if err := s.tokens.save(ctx, t); err != nil {
		return err
	}
	s.mu.Lock()
	s.delivered = t.CreatedAt
	s.mu.Unlock()
	return nil
}

// startStream opens a change stream from now and returns its start: the
// post-batch resume token of its first, empty batch.
func (s *Source) startStream(ctx context.Context) (*mongo.ChangeStream, bson.Raw, error) {
	cs, err := s.watch(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	tok := bytes.Clone(cs.ResumeToken())
	if tok == nil {
		_ = cs.Close(context.WithoutCancel(ctx))
		return nil, nil, fmt.Errorf("%s: the change stream gave no initial resume token (MongoDB 4.0.7 or later is needed)", s.hosts)
	}
	return cs, tok, nil
}

// resumeStream opens the change stream after pos; a token the server
// refuses starts the recovery.
func (s *Source) resumeStream(ctx context.Context) error {
	reopen := s.opened
	cs, err := s.watch(ctx, s.pos)
	if err != nil {
		if code, ok := unusableToken(err); ok {
			return s.recoverToken(ctx, code, err)
		}
		return err
	}
	if reopen {
		s.bump(func(st *Stats) { st.Reopens++ })
	}
	s.cs = cs
	return nil
}

// insertsPipeline selects inserts, as NVSentinel's exporter does, and
// keeps only what a row needs. _id, the resume token, must stay as it is.
var insertsPipeline = mongo.Pipeline{
	{{Key: "$match", Value: bson.D{{Key: "operationType", Value: "insert"}}}},
	{{Key: "$project", Value: bson.D{
		{Key: "clusterTime", Value: 1},
		{Key: "documentKey", Value: 1},
		{Key: "fullDocument", Value: 1},
	}}},
}

func (s *Source) watch(ctx context.Context, after bson.Raw) (*mongo.ChangeStream, error) {
	opts := options.ChangeStream()
	if after != nil {
		opts.SetResumeAfter(after)
	}
	cs, err := s.events.Watch(ctx, insertsPipeline, opts)
	if err != nil {
		if noChangeStreams(err) {
			return nil, fmt.Errorf("%w (%s: %w)", ErrNoChangeStreams, s.hosts, err)
		}
		return nil, fmt.Errorf("open change stream on %s.%s: %w", s.cfg.Database, s.cfg.Collection, err)
	}
	s.opened = true
	return cs, nil
}

// recoverToken answers a resume token the server no longer accepts with a
// backfill from the last delivered event's createdAt (less
// RecoveryMargin), never with a silent jump to now.
func (s *Source) recoverToken(ctx context.Context, code int, cause error) error {
	s.closeStream(ctx)
	s.mu.Lock()
	from := s.delivered
	s.mu.Unlock()
	how := "the last delivered event's createdAt"
	if from.IsZero() {
		// A token of NVSentinel's: its cluster time is when that event
		// was inserted.
		from, how = tokenTime(s.pos), "the resume token's cluster time"
	}
	if from.IsZero() {
		how = "the beginning (nothing tells where the token was)"
		if s.cfg.Backfill.MaxAge > 0 {
			from, how = time.Now().Add(-s.cfg.Backfill.MaxAge).UTC(), "now minus backfill max_age (nothing tells where the token was)"
		}
	} else {
		from = from.Add(-RecoveryMargin)
	}
	s.bump(func(st *Stats) { st.Recoveries++ })
	s.logger.Error("The resume token can no longer be used: exporting again from "+how+", duplicates possible, nothing lost",
		zap.String("client", s.cfg.ClientName), zap.Int("code", code), zap.Time("from", from), zap.Error(redactErr(cause, s.cfg.URI)))
	return s.startBackfill(ctx, from, 0, false)
}

// Next returns between 1 and max rows, blocking until there is at least
// one. Any error other than ctx's (or ErrNoChangeStreams) may be retried:
// the next call reopens the stream after the last row returned. Closing
// and opening a new Source instead continues from the last saved token.
func (s *Source) Next(ctx context.Context, max int) ([]Row, error) {
	if max < 1 {
		return nil, fmt.Errorf("next: max must be at least 1, not %d", max)
	}
	for {
		if b := s.backfill; b != nil {
			rows, done, err := b.next(ctx, max)
			if err != nil {
				return nil, s.failed(ctx, err)
			}
			s.updateStats()
			if len(rows) > 0 {
				return rows, nil
			}
			if done {
				s.logger.Info("Backfill complete, continuing with the live stream", zap.Int64("rows", b.pos.Count))
				s.backfill = nil
				s.dedupUntil = time.Now().Add(RecoveryMargin)
				s.updateStats()
			}
			continue
		}
		if s.cs == nil {
			if err := s.resumeStream(ctx); err != nil {
				return nil, s.failed(ctx, err)
			}
			continue
		}
		rows, err := s.live(ctx, max)
		if err != nil {
			if code, ok := unusableToken(err); ok {
				if err := s.recoverToken(ctx, code, err); err != nil {
					return nil, s.failed(ctx, err)
				}
				continue
			}
			return nil, s.failed(ctx, err)
		}
		if len(rows) > 0 {
			return rows, nil
		}
	}
}

// live reads up to max events: it blocks for the first, then takes what
// the current batch holds.
func (s *Source) live(ctx context.Context, max int) ([]Row, error) {
	var rows []Row
	for len(rows) < max {
		if len(rows) > 0 && s.cs.RemainingBatchLength() == 0 {
			break
		}
		if !s.cs.Next(ctx) {
			err := s.cs.Err()
			s.closeStream(ctx)
			switch {
			case len(rows) > 0:
				return rows, nil // the error comes again on reopening, if it lasts
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case err == nil:
				return nil, errors.New("change stream closed by the server (collection dropped or renamed?)")
			}
			return nil, fmt.Errorf("read change stream: %w", err)
		}
		row, keep := s.liveRow()
		s.pos = row.Token.ResumeToken
		if keep {
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// liveRow turns the current change event into a row; keep is false for an
// event the backfill has already returned.
func (s *Source) liveRow() (row Row, keep bool) {
	ev := s.cs.Current
	full, _ := ev.Lookup("fullDocument").DocumentOK()
	full = bytes.Clone(full)
	id, err := ev.LookupErr("documentKey", "_id")
	if err != nil {
		id = full.Lookup("_id")
	}
	var at time.Time
	if t, i, ok := ev.Lookup("clusterTime").TimestampOK(); ok {
		at = timestampTime(bson.Timestamp{T: t, I: i})
	}
	row = Row{ID: idString(id), Document: full}
	row.Token = Token{ResumeToken: bytes.Clone(s.cs.ResumeToken()), CreatedAt: at}
	if c, ok := full.Lookup(fieldCreatedAt).TimeOK(); ok {
		row.CreatedAt = c.UTC()
		row.Token.CreatedAt = row.CreatedAt
	}
	s.bump(func(st *Stats) { st.LastEventTime = at })
	if s.dedup.len() > 0 {
		if at.After(s.dedupUntil) {
			s.dedup.clear()
		} else if s.dedup.take(row.ID) {
			s.bump(func(st *Stats) { st.Duplicates++ })
			return row, false
		}
	}
	return row, true
}

func (s *Source) closeStream(ctx context.Context) {
	if s.cs != nil {
		_ = s.cs.Close(context.WithoutCancel(ctx))
		s.cs = nil
	}
}

// failed says what the caller may do about err.
func (s *Source) failed(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrNoChangeStreams), errors.Is(err, ErrDisconnected):
		return redactErr(err, s.cfg.URI)
	}
	return redactErr(fmt.Errorf("%w: %w", ErrDisconnected, err), s.cfg.URI)
}

// SaveToken stores t as ClientName's resume token (majority write
// concern). It may run while Next waits.
func (s *Source) SaveToken(ctx context.Context, t Token) error {
	if err := s.tokens.save(ctx, t); err != nil {
		return redactErr(err, s.cfg.URI)
	}
	s.mu.Lock()
	s.delivered = t.CreatedAt
	s.mu.Unlock()
	return nil
}

// Stats reports progress; safe from any goroutine.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close closes the stream and the connections. The source must not be
// used afterwards.
func (s *Source) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.closeStream(ctx)
	return s.client.Disconnect(ctx)
}

func (s *Source) updateStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Backfilling = s.backfill != nil
	if s.backfill != nil {
		s.stats.BackfillRows = s.backfill.pos.Count
	}
}

func (s *Source) bump(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// tokenTime is the cluster time of a resume token, or zero.
func tokenTime(tok bson.Raw) time.Time {
	if ts, ok := clusterTime(tok); ok {
		return timestampTime(ts)
	}
	return time.Time{}
}
