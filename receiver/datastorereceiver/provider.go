package datastorereceiver

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/healthevent"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/mongo"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/postgres"
)

// source is one provider's reader as the receiver drives it: events in
// the order their tokens follow, each batch with the token to write once it
// and every batch before it are delivered.
type source interface {
	// next blocks until at least one event is read or ctx is done, and
	// returns at most max events.
	next(ctx context.Context, max int) (batch, error)
	// saveToken writes the token of a delivered batch.
	saveToken(ctx context.Context, token any) error
	stats() sourceStats
	close() error
}

// batch is what one next call read.
type batch interface {
	len() int
	// decode writes event i into lr; an error is a document that is not a
	// health event (healthevent.ReasonOf says why).
	decode(d *healthevent.Decoder, i int, lr plog.LogRecord) error
	token() any
	// lastCreatedAt is when the batch's last event was stored, for the lag.
	lastCreatedAt() time.Time
	// backfill counts the events read by a backfill.
	backfill() int
}

type sourceStats struct {
	openGaps   int   // PostgreSQL: changelog gaps that may still commit
	recoveries int64 // MongoDB: unusable resume tokens recovered from, since open
}

// leader elects one reading replica.
type leader interface {
	// Acquire blocks until this replica leads or ctx is done; lost is
	// closed when it stops leading.
	Acquire(ctx context.Context) (lost <-chan struct{}, err error)
	Release(ctx context.Context) error
}

// dbSystem is the db.system.name of the provider, for the records.
func dbSystem(provider string) string {
	if provider == ProviderMongoDB {
		return "mongodb"
	}
	return "postgresql"
}

func openSource(ctx context.Context, cfg *Config, tokens *tokenStorage, logger *zap.Logger) (source, error) {
	switch cfg.Provider {
	case ProviderPostgreSQL:
		pc, err := postgresConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if tokens != nil {
			pc.TokenStore = tokens
		}
		s, err := postgres.Open(ctx, pc, logger)
		if err != nil {
			return nil, err
		}
		return pgSource{s}, nil
	case ProviderMongoDB:
		mc, err := mongoConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if tokens != nil {
			mc.TokenStore = tokens
		}
		s, err := mongo.Open(ctx, mc, logger)
		if err != nil {
			return nil, err
		}
		return mongoSource{s}, nil
	}
	return nil, fmt.Errorf("provider %q is not supported", cfg.Provider)
}

func newLeader(ctx context.Context, cfg *Config, logger *zap.Logger) (leader, error) {
	switch cfg.Provider {
	case ProviderPostgreSQL:
		pc, err := postgresConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return postgres.NewLeader(pc, cfg.LeaderElection.RetryInterval, logger)
	case ProviderMongoDB:
		mc, err := mongoConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return mongo.NewLeader(mc, mongo.LeaderConfig{
			RenewInterval: cfg.LeaderElection.RetryInterval,
			LeaseDuration: cfg.LeaderElection.LeaseDuration,
		}, logger)
	}
	return nil, fmt.Errorf("provider %q is not supported", cfg.Provider)
}

func mongoConfig(ctx context.Context, cfg *Config) (mongo.Config, error) {
	m := cfg.MongoDB
	t, err := loadTLS(ctx, m.TLS)
	if err != nil {
		return mongo.Config{}, fmt.Errorf("mongodb::tls: %w", err)
	}
	b := cfg.Backfill
	return mongo.Config{
		URI:             string(m.URI),
		TLS:             t,
		Database:        m.Database,
		Collection:      m.Collection,
		TokenCollection: m.TokenCollection,
		ClientName:      cfg.ClientName,
		Backfill: mongo.BackfillConfig{
			Enabled: b.Enabled, MaxAge: b.MaxAge, MaxEvents: b.MaxEvents, BatchSize: b.BatchSize, RateLimit: b.RateLimit,
		},
	}, nil
}

func postgresConfig(ctx context.Context, cfg *Config) (postgres.Config, error) {
	p := cfg.PostgreSQL
	t, err := loadTLS(ctx, p.TLS)
	if err != nil {
		return postgres.Config{}, fmt.Errorf("postgresql::tls: %w", err)
	}
	b := cfg.Backfill
	return postgres.Config{
		DSN:               string(p.DSN),
		TLS:               t,
		NotifyChannel:     p.NotifyChannel,
		PollInterval:      p.PollInterval,
		HealthEventsTable: p.HealthEventsTable,
		ChangelogTable:    p.ChangelogTable,
		ResumeTokensTable: p.ResumeTokensTable,
		ClientName:        cfg.ClientName,
		Backfill: postgres.BackfillConfig{
			Enabled: b.Enabled, MaxAge: b.MaxAge, MaxEvents: b.MaxEvents, BatchSize: b.BatchSize, RateLimit: b.RateLimit,
		},
	}, nil
}

func loadTLS(ctx context.Context, o configoptional.Optional[configtls.ClientConfig]) (*tls.Config, error) {
	c := o.Get()
	if c == nil {
		return nil, nil
	}
	return c.LoadTLSConfig(ctx)
}

// pgSource adapts postgres.Source.
type pgSource struct{ s *postgres.Source }

func (p pgSource) next(ctx context.Context, max int) (batch, error) {
	rows, err := p.s.Next(ctx, max)
	return pgBatch(rows), err
}

func (p pgSource) saveToken(ctx context.Context, token any) error {
	return p.s.SaveToken(ctx, token.(postgres.Token))
}

func (p pgSource) stats() sourceStats { return sourceStats{openGaps: p.s.Stats().OpenGaps} }

func (p pgSource) close() error { return p.s.Close() }

type pgBatch []postgres.Row

func (b pgBatch) len() int { return len(b) }

func (b pgBatch) decode(d *healthevent.Decoder, i int, lr plog.LogRecord) error {
	return d.FromPostgres(b[i].ID, b[i].CreatedAt, b[i].Document, lr)
}

func (b pgBatch) token() any { return b[len(b)-1].Token }

func (b pgBatch) lastCreatedAt() time.Time { return b[len(b)-1].CreatedAt }

func (b pgBatch) backfill() int {
	n := 0
	for _, r := range b {
		if r.ChangelogID == 0 {
			n++
		}
	}
	return n
}

// mongoSource adapts mongo.Source.
type mongoSource struct{ s *mongo.Source }

func (m mongoSource) next(ctx context.Context, max int) (batch, error) {
	rows, err := m.s.Next(ctx, max)
	return mongoBatch{rows: rows, backfilling: m.s.Stats().Backfilling}, err
}

func (m mongoSource) saveToken(ctx context.Context, token any) error {
	return m.s.SaveToken(ctx, token.(mongo.Token))
}

func (m mongoSource) stats() sourceStats { return sourceStats{recoveries: m.s.Stats().Recoveries} }

func (m mongoSource) close() error { return m.s.Close() }

type mongoBatch struct {
	rows        []mongo.Row
	backfilling bool
}

func (b mongoBatch) len() int { return len(b.rows) }

func (b mongoBatch) decode(d *healthevent.Decoder, i int, lr plog.LogRecord) error {
	return d.FromMongo(b.rows[i].Document, lr)
}

func (b mongoBatch) token() any { return b.rows[len(b.rows)-1].Token }

func (b mongoBatch) lastCreatedAt() time.Time { return b.rows[len(b.rows)-1].CreatedAt }

func (b mongoBatch) backfill() int {
	if b.backfilling {
		return len(b.rows)
	}
	return 0
}

// tokenStorage keeps the resume token in a storage extension
// (resume::storage), under the client name.
type tokenStorage struct {
	client storage.Client
	key    string
}

func (t *tokenStorage) Load(ctx context.Context) ([]byte, error) {
	b, err := t.client.Get(ctx, t.key)
	if err != nil {
		return nil, fmt.Errorf("resume::storage: %w", err)
	}
	return b, nil
}

func (t *tokenStorage) Save(ctx context.Context, token []byte) error {
	if err := t.client.Set(ctx, t.key, token); err != nil {
		return fmt.Errorf("resume::storage: %w", err)
	}
	return nil
}
