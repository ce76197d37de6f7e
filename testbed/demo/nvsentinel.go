package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/testbed/sink"
)

// nvsentinelMix is how many health events the demo inserts, before the
// collector starts (history: the backfill exports it) and after (live: the
// changelog brings them).
type nvsentinelMix struct {
	History, Live int
	// NoAction of each phase recommend NONE: cel_filter drops them.
	NoAction int
	// Poison events (live) are refused by the sink with 400: dead-lettered.
	Poison int
}

func defaultNVSentinelMix() nvsentinelMix {
	return nvsentinelMix{History: 30, Live: 30, NoAction: 5, Poison: 1}
}

func (m nvsentinelMix) total() int    { return m.History + m.Live }
func (m nvsentinelMix) filtered() int { return 2 * m.NoAction }

// nvStore is one of NVSentinel's datastores, holding its health events.
type nvStore interface {
	// kind is the config template's name for it: Postgres or Mongo.
	kind() string
	// name is the datastore's name: PostgreSQL or MongoDB.
	name() string
	// live names what brings the receiver new events.
	live() string
	// describe says what runs it, for the demo's first lines.
	describe() string
	// insert inserts n health events the way NVSentinel's platform
	// connector does, the first noAction of them healthy (recommended
	// action NONE), created at createdAt(i) (nil: now, as live events
	// are). Before they become visible, beforeCommit gets the ids of the
	// last poison events, so that the sink knows them before they arrive.
	insert(ctx context.Context, n, noAction, poison int, createdAt func(i int) time.Time, beforeCommit func(poisonIDs []string) error) error
	Close()
}

// nvPipeline is the NVSentinel pipeline on one datastore, with its sink.
type nvPipeline struct {
	store   nvStore
	mix     nvsentinelMix
	sink    *sink.Sink
	sinkURL string
}

// Component ids in the config (config.yaml.tmpl): one pipeline per
// datastore, so that the metrics' component labels tell them apart.
func (p *nvPipeline) receiver() string { return "datastore/" + strings.ToLower(p.store.name()) }
func (p *nvPipeline) filter() string   { return "cel_filter/" + strings.ToLower(p.store.name()) }
func (p *nvPipeline) exporter() string {
	return "cloudevents/nvsentinel-" + strings.ToLower(p.store.name())
}

// templateVars are the template's .Postgres or .Mongo.
func (p *nvPipeline) templateVars() map[string]string {
	v := map[string]string{"SinkURL": p.sinkURL}
	switch s := p.store.(type) {
	case *nvsentinelDB:
		v["DSN"] = s.dsn
	case *nvsentinelMongo:
		v["URI"], v["CAFile"], v["CertFile"], v["KeyFile"] = s.server.URI, s.server.CAFile, s.server.CertFile, s.server.KeyFile
	}
	return v
}

// nvsentinelDB is a throwaway PostgreSQL holding NVSentinel's schema.
type nvsentinelDB struct {
	server *pgtest.Server
	dsn    string
}

func startNVSentinelDB(ctx context.Context) (nvStore, error) {
	s, err := pgtest.New()
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL did not start: %w", err)
	}
	dsn, err := s.CreateNVSentinelDB(ctx, "nvsentinel")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	return &nvsentinelDB{server: s, dsn: dsn}, nil
}

func (db *nvsentinelDB) kind() string     { return "Postgres" }
func (db *nvsentinelDB) name() string     { return "PostgreSQL" }
func (db *nvsentinelDB) live() string     { return "changelog" }
func (db *nvsentinelDB) describe() string { return "a throwaway PostgreSQL" }

func (db *nvsentinelDB) Close() { db.server.Close() }

func (db *nvsentinelDB) insert(ctx context.Context, n, noAction, poison int, createdAt func(i int) time.Time, beforeCommit func(poisonIDs []string) error) error {
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var poisonIDs []string
	for i := 0; i < n; i++ {
		at := time.Now()
		if createdAt != nil {
			at = createdAt(i)
		}
		ev := demoEvent(i, noAction, at)
		var id string
		if createdAt != nil {
			id, err = pgtest.InsertHealthEventAt(ctx, tx, ev, at)
		} else { // live: created_at is the server's now(), as NVSentinel leaves it
			id, err = pgtest.InsertHealthEvent(ctx, tx, ev)
		}
		if err != nil {
			return err
		}
		if i >= n-poison {
			poisonIDs = append(poisonIDs, id)
		}
	}
	if beforeCommit != nil {
		if err := beforeCommit(poisonIDs); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// demoEvent is the i-th event of an insert: a GPU XID error generated at
// at, or (the first noAction) a healthy GPU, recommended action NONE.
func demoEvent(i, noAction int, at time.Time) pgtest.HealthEvent {
	ev := pgtest.SampleEvent(fmt.Sprintf("gpu-node-%02d", i%8))
	ev.GeneratedTimestamp = &pgtest.Timestamp{Seconds: at.Unix(), Nanos: int32(at.Nanosecond())}
	if i < noAction {
		ev.IsFatal, ev.IsHealthy, ev.RecommendedAction = false, true, 0 // NONE
		ev.Message, ev.ErrorCode = "GPU healthy", nil
	}
	return ev
}
