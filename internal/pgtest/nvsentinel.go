package pgtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Schema is the schema NVSentinel's store client creates when any of its
// services connects to PostgreSQL (createTables and createChangeTriggers in
// store-client/pkg/datastore/providers/postgresql/datastore.go), statement
// for statement and in the same order. That is the schema a live NVSentinel
// database has: the init script in the Helm values
// (values-tilt-postgresql.yaml, docs/postgresql-schema.sql) creates the
// same tables with a trigger function that does not NOTIFY, and the first
// service to start replaces the function with this one.
//
// The NOTIFY payload is json_build_object(...)::text, which PostgreSQL
// renders with spaces: {"id" : 42, "table" : "health_events", "operation" : "INSERT"}.
const Schema = `
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE TABLE IF NOT EXISTS maintenance_events (
	id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
	event_id VARCHAR(255) UNIQUE NOT NULL,
	csp VARCHAR(50) NOT NULL,
	cluster_name VARCHAR(255) NOT NULL,
	node_name VARCHAR(255),
	status VARCHAR(50) NOT NULL,
	csp_status VARCHAR(50),
	scheduled_start_time TIMESTAMPTZ,
	actual_end_time TIMESTAMPTZ,
	event_received_timestamp TIMESTAMPTZ NOT NULL,
	last_updated_timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
	document JSONB NOT NULL,
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS health_events (
	id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
	node_name VARCHAR(255) NOT NULL,
	event_type VARCHAR(100),
	severity VARCHAR(50),
	recommended_action VARCHAR(100),
	node_quarantined VARCHAR(50),
	user_pods_eviction_status VARCHAR(50) DEFAULT 'NotStarted',
	user_pods_eviction_message TEXT,
	fault_remediated BOOLEAN,
	last_remediation_timestamp TIMESTAMPTZ,
	document JSONB NOT NULL,
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS datastore_changelog (
	id BIGSERIAL PRIMARY KEY,
	table_name VARCHAR(100) NOT NULL,
	record_id UUID NOT NULL,
	operation VARCHAR(20) NOT NULL,
	old_values JSONB,
	new_values JSONB,
	changed_at TIMESTAMPTZ DEFAULT NOW(),
	processed BOOLEAN DEFAULT FALSE
);

CREATE TABLE IF NOT EXISTS resume_tokens (
	client_name VARCHAR(255) PRIMARY KEY,
	resume_token JSONB NOT NULL,
	last_updated TIMESTAMPTZ DEFAULT NOW()
);

ALTER TABLE health_events ADD COLUMN IF NOT EXISTS quarantine_finish_timestamp TIMESTAMPTZ;
ALTER TABLE health_events ADD COLUMN IF NOT EXISTS drain_finish_timestamp TIMESTAMPTZ;

CREATE INDEX IF NOT EXISTS idx_maintenance_events_event_id ON maintenance_events(event_id);
CREATE INDEX IF NOT EXISTS idx_maintenance_events_csp_cluster ON maintenance_events(csp, cluster_name);
CREATE INDEX IF NOT EXISTS idx_maintenance_events_node_status ON maintenance_events(node_name, status);
CREATE INDEX IF NOT EXISTS idx_maintenance_events_status_scheduled ON maintenance_events(status, scheduled_start_time) WHERE scheduled_start_time IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_maintenance_events_status_actual_end ON maintenance_events(status, actual_end_time) WHERE actual_end_time IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_maintenance_events_received_desc ON maintenance_events(csp, cluster_name, event_received_timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_maintenance_events_document_gin ON maintenance_events USING GIN (document);

CREATE INDEX IF NOT EXISTS idx_health_events_node_name ON health_events(node_name);
CREATE INDEX IF NOT EXISTS idx_health_events_node_type ON health_events(node_name, event_type);
CREATE INDEX IF NOT EXISTS idx_health_events_quarantined ON health_events(node_quarantined) WHERE node_quarantined IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_health_events_created_desc ON health_events(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_health_events_document_gin ON health_events USING GIN (document);

CREATE INDEX IF NOT EXISTS idx_changelog_unprocessed ON datastore_changelog(changed_at) WHERE processed = FALSE;
CREATE INDEX IF NOT EXISTS idx_changelog_table_record ON datastore_changelog(table_name, record_id);
CREATE INDEX IF NOT EXISTS idx_changelog_resume
	ON datastore_changelog(table_name, changed_at, id)
	WHERE processed = FALSE;

CREATE OR REPLACE FUNCTION log_table_changes()
RETURNS TRIGGER AS $$
DECLARE
	changelog_id BIGINT;
BEGIN
	IF TG_OP = 'DELETE' THEN
		INSERT INTO datastore_changelog (table_name, record_id, operation, old_values)
		VALUES (TG_TABLE_NAME, OLD.id, TG_OP, to_jsonb(OLD))
		RETURNING id INTO changelog_id;

		PERFORM pg_notify(
			'nvsentinel_changes',
			json_build_object(
				'id', changelog_id,
				'table', TG_TABLE_NAME,
				'operation', TG_OP
			)::text
		);
		RETURN OLD;
	ELSIF TG_OP = 'UPDATE' THEN
		INSERT INTO datastore_changelog (table_name, record_id, operation, old_values, new_values)
		VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(OLD), to_jsonb(NEW))
		RETURNING id INTO changelog_id;

		PERFORM pg_notify(
			'nvsentinel_changes',
			json_build_object(
				'id', changelog_id,
				'table', TG_TABLE_NAME,
				'operation', TG_OP
			)::text
		);
		RETURN NEW;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO datastore_changelog (table_name, record_id, operation, new_values)
		VALUES (TG_TABLE_NAME, NEW.id, TG_OP, to_jsonb(NEW))
		RETURNING id INTO changelog_id;

		PERFORM pg_notify(
			'nvsentinel_changes',
			json_build_object(
				'id', changelog_id,
				'table', TG_TABLE_NAME,
				'operation', TG_OP
			)::text
		);
		RETURN NEW;
	END IF;
	RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS maintenance_events_changes ON maintenance_events;
CREATE TRIGGER maintenance_events_changes
	AFTER INSERT OR UPDATE OR DELETE ON maintenance_events
	FOR EACH ROW EXECUTE FUNCTION log_table_changes();

DROP TRIGGER IF EXISTS health_events_changes ON health_events;
CREATE TRIGGER health_events_changes
	AFTER INSERT OR UPDATE OR DELETE ON health_events
	FOR EACH ROW EXECUTE FUNCTION log_table_changes();
`

// ApplySchema creates NVSentinel's tables, indexes and triggers in the
// database at dsn.
func ApplySchema(tb testing.TB, dsn string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := applySchema(ctx, dsn); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
}

func applySchema(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to apply the schema: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	// The simple protocol runs the whole script, several statements, at once.
	if _, err := conn.PgConn().Exec(ctx, Schema).ReadAll(); err != nil {
		return fmt.Errorf("apply NVSentinel's schema: %w", err)
	}
	return nil
}

// HealthEvent is NVSentinel's protobuf datamodels.HealthEvent as Go's
// encoding/json writes the generated struct: camelCase keys, every field
// omitempty, enums as integers, timestamps as {"seconds","nanos"}. That is
// the shape inside health_events.document.healthevent.
type HealthEvent struct {
	Version                 uint32            `json:"version,omitempty"`
	Agent                   string            `json:"agent,omitempty"`
	ComponentClass          string            `json:"componentClass,omitempty"`
	CheckName               string            `json:"checkName,omitempty"`
	IsFatal                 bool              `json:"isFatal,omitempty"`
	IsHealthy               bool              `json:"isHealthy,omitempty"`
	Message                 string            `json:"message,omitempty"`
	RecommendedAction       int32             `json:"recommendedAction,omitempty"`
	ErrorCode               []string          `json:"errorCode,omitempty"`
	EntitiesImpacted        []Entity          `json:"entitiesImpacted,omitempty"`
	Metadata                map[string]string `json:"metadata,omitempty"`
	GeneratedTimestamp      *Timestamp        `json:"generatedTimestamp,omitempty"`
	NodeName                string            `json:"nodeName,omitempty"`
	QuarantineOverrides     *Overrides        `json:"quarantineOverrides,omitempty"`
	DrainOverrides          *Overrides        `json:"drainOverrides,omitempty"`
	ProcessingStrategy      int32             `json:"processingStrategy,omitempty"`
	ID                      string            `json:"id,omitempty"`
	CustomRecommendedAction string            `json:"customRecommendedAction,omitempty"`
}

// Entity is one impacted entity (a GPU, a NIC…).
type Entity struct {
	EntityType  string `json:"entityType,omitempty"`
	EntityValue string `json:"entityValue,omitempty"`
}

// Timestamp is google.protobuf.Timestamp through encoding/json.
type Timestamp struct {
	Seconds int64 `json:"seconds,omitempty"`
	Nanos   int32 `json:"nanos,omitempty"`
}

// Overrides is datamodels.BehaviourOverrides.
type Overrides struct {
	Force bool `json:"force,omitempty"`
	Skip  bool `json:"skip,omitempty"`
}

// SampleEvent is a realistic fatal GPU XID event for node.
func SampleEvent(node string) HealthEvent {
	return HealthEvent{
		Version:            1,
		Agent:              "gpu-health-monitor",
		ComponentClass:     "GPU",
		CheckName:          "GpuXidError",
		IsFatal:            true,
		Message:            "XID error occurred",
		RecommendedAction:  15, // RESTART_VM
		ErrorCode:          []string{"79"},
		EntitiesImpacted:   []Entity{{EntityType: "GPU", EntityValue: "0"}},
		Metadata:           map[string]string{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"},
		GeneratedTimestamp: &Timestamp{Seconds: 1784025000, Nanos: 123456789},
		NodeName:           node,
		ProcessingStrategy: 1, // EXECUTE_REMEDIATION
	}
}

// document is datastore.HealthEventWithStatus as the platform connector
// marshals it. RawEvent has no JSON tag upstream, so every stored document
// carries "RawEvent": null.
type document struct {
	CreatedAt         time.Time         `json:"createdAt"`
	HealthEvent       *HealthEvent      `json:"healthevent,omitempty"`
	HealthEventStatus healthEventStatus `json:"healtheventstatus"`
	RawEvent          map[string]any
}

// healthEventStatus is the status the platform connector writes at insert:
// nothing known yet, and its own span ID.
type healthEventStatus struct {
	NodeQuarantined        *string           `json:"nodequarantined"`
	UserPodsEvictionStatus operationStatus   `json:"userpodsevictionstatus"`
	FaultRemediated        *bool             `json:"faultremediated"`
	SpanIDs                map[string]string `json:"spanids,omitempty"`
}

type operationStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// Document is the JSON the platform connector stores in
// health_events.document for ev, created at createdAt.
func Document(ev HealthEvent, createdAt time.Time) ([]byte, error) {
	doc := document{
		CreatedAt:   createdAt.UTC(),
		HealthEvent: &ev,
		HealthEventStatus: healthEventStatus{
			SpanIDs: map[string]string{"platform-connector": "00f067aa0ba902b7"},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal health event document: %w", err)
	}
	return b, nil
}

// Querier is what InsertHealthEvent needs: a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertSQL is the platform connector's INSERT (insertHealthEventRecord),
// plus created_at, which it leaves to its default (COALESCE keeps that),
// and RETURNING id so tests learn the row's key.
const insertSQL = `
INSERT INTO health_events (
	node_name, event_type, severity, recommended_action,
	node_quarantined, quarantine_finish_timestamp,
	user_pods_eviction_status, user_pods_eviction_message,
	drain_finish_timestamp, fault_remediated, last_remediation_timestamp,
	document, created_at
) VALUES (
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, COALESCE($13, now())
) RETURNING id`

// InsertHealthEvent inserts ev the way NVSentinel's platform connector does
// and returns the row's id (health_events.id, a UUID). The trigger writes
// the changelog row and sends the NOTIFY.
func InsertHealthEvent(ctx context.Context, q Querier, ev HealthEvent) (string, error) {
	return insert(ctx, q, ev, time.Now(), nil)
}

// InsertHealthEventAt is InsertHealthEvent with created_at (and the
// document's createdAt) set to createdAt instead of now, for history
// (backfill) tests. NVSentinel itself never sets created_at.
func InsertHealthEventAt(ctx context.Context, q Querier, ev HealthEvent, createdAt time.Time) (string, error) {
	return insert(ctx, q, ev, createdAt, &createdAt)
}

func insert(ctx context.Context, q Querier, ev HealthEvent, docTime time.Time, createdAt *time.Time) (string, error) {
	doc, err := Document(ev, docTime)
	if err != nil {
		return "", err
	}
	var id string
	err = q.QueryRow(ctx, insertSQL,
		ev.NodeName, ev.CheckName, ev.ComponentClass, RecommendedActionName(ev.RecommendedAction),
		nil, nil, // not quarantined yet
		nil, "", // eviction status: NULL on insert, empty message
		nil, nil, nil,
		doc, createdAt,
	).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("insert health event: %w", err)
	}
	return id, nil
}

// BulkInsertHealthEvents inserts n copies of ev in one statement, the i-th
// (from 0) created at first + i*step, with the trigger firing for each as
// for single inserts. It is the fast way to build a large history.
func BulkInsertHealthEvents(ctx context.Context, q Querier, n int, ev HealthEvent, first time.Time, step time.Duration) error {
	doc, err := Document(ev, first)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `
INSERT INTO health_events (node_name, event_type, severity, recommended_action,
	user_pods_eviction_status, user_pods_eviction_message, document, created_at)
SELECT $1, $2, $3, $4, NULL, '', $5::jsonb, $6::timestamptz + (g - 1) * $7::interval
FROM generate_series(1, $8::int) AS g`,
		ev.NodeName, ev.CheckName, ev.ComponentClass, RecommendedActionName(ev.RecommendedAction),
		doc, first, step, n)
	if err != nil {
		return fmt.Errorf("bulk insert %d health events: %w", n, err)
	}
	return nil
}

var recommendedActions = map[int32]string{
	0: "NONE", 2: "COMPONENT_RESET", 5: "CONTACT_SUPPORT", 6: "RUN_FIELDDIAG",
	15: "RESTART_VM", 24: "RESTART_BM", 25: "REPLACE_VM", 26: "RUN_DCGMEUD",
	27: "CUSTOM", 99: "UNKNOWN",
}

// RecommendedActionName is the protobuf enum's String(), which the platform
// connector stores in health_events.recommended_action.
func RecommendedActionName(v int32) string {
	if name, ok := recommendedActions[v]; ok {
		return name
	}
	return strconv.Itoa(int(v))
}
