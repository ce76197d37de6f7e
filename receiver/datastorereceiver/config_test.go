package datastorereceiver

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
)

func load(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cfg, err := testutil.LoadConfig(t, component.NewIDWithName(metadata.Type, name), NewFactory())
	return cfg.(*Config), err
}

func TestConfigStruct(t *testing.T) {
	if err := componenttest.CheckConfigStruct(createDefaultConfig()); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	want := createDefaultConfig().(*Config)
	want.PostgreSQL.DSN = "postgres://courier:secret@db.example.com:5432/nvsentinel?sslmode=verify-full"
	if cfg.Provider != ProviderPostgreSQL || cfg.ClientName != "event-exporter" ||
		cfg.PostgreSQL.NotifyChannel != "nvsentinel_changes" || cfg.PostgreSQL.PollInterval != time.Second ||
		cfg.PostgreSQL.HealthEventsTable != "health_events" || cfg.PostgreSQL.ChangelogTable != "datastore_changelog" ||
		cfg.PostgreSQL.ResumeTokensTable != "resume_tokens" || cfg.MongoDB.Database != "nvsentinel" ||
		cfg.MongoDB.Collection != "HealthEvents" || cfg.MongoDB.TokenCollection != "ResumeTokens" {
		t.Fatalf("defaults: %+v", cfg)
	}
	if b := cfg.Backfill; !b.Enabled || b.MaxAge != 720*time.Hour || b.MaxEvents != 1_000_000 || b.BatchSize != 500 || b.RateLimit != 1000 {
		t.Fatalf("backfill defaults (NVSentinel's): %+v", b)
	}
	if l := cfg.LeaderElection; !l.Enabled || l.RetryInterval != 2*time.Second || l.LeaseDuration != 10*time.Second {
		t.Fatalf("leader_election defaults: %+v", l)
	}
	if cfg.EventSource != "nvsentinel://unknown/healthevents" || cfg.MaxInFlight != 2000 || cfg.MaxBatchEvents != 500 ||
		cfg.Resume.Storage != nil || cfg.PostgreSQL.TLS.HasValue() || cfg.MongoDB.TLS.HasValue() {
		t.Fatalf("defaults: %+v", cfg)
	}
	// Nothing else differs from the factory's defaults.
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestFullConfig(t *testing.T) {
	cfg, err := load(t, "full")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.PostgreSQL
	if p.DSN != configopaque.String("postgres://courier@db.example.com/nvsentinel") || p.NotifyChannel != "changes" ||
		p.PollInterval != 250*time.Millisecond || p.HealthEventsTable != "nv.health_events" ||
		p.ChangelogTable != "nv.datastore_changelog" || p.ResumeTokensTable != "nv.resume_tokens" {
		t.Fatalf("postgresql: %+v", p)
	}
	if tls := p.TLS.Get(); tls == nil || tls.CAFile != "/etc/courier/db-ca.pem" || tls.CertFile != "/etc/courier/db-client.pem" {
		t.Fatalf("postgresql::tls: %+v", p.TLS)
	}
	if cfg.ClientName != "courier" || cfg.EventSource != "nvsentinel://prod/healthevents" ||
		cfg.MaxInFlight != 500 || cfg.MaxBatchEvents != 50 {
		t.Fatalf("%+v", cfg)
	}
	if b := cfg.Backfill; b.Enabled || b.MaxAge != 168*time.Hour || b.MaxEvents != 10000 || b.BatchSize != 100 || b.RateLimit != 100 {
		t.Fatalf("backfill: %+v", b)
	}
	if l := cfg.LeaderElection; l.Enabled || l.RetryInterval != time.Second || l.LeaseDuration != 5*time.Second {
		t.Fatalf("leader_election: %+v", l)
	}
	if s := cfg.Resume.Storage; s == nil || s.String() != "file_storage/datastore" {
		t.Fatalf("resume::storage: %v", s)
	}
	if d := cfg.DeadLetter; cfg.MaxSplitDepth != 10 || d.Directory != "/var/lib/otelcol-courier/dead-letter" || d.MaxSize != 1<<20 || d.OnFull != "drop_new" {
		t.Fatalf("max_split_depth %d, dead_letter %+v", cfg.MaxSplitDepth, d)
	}
}

func TestMongoDBConfig(t *testing.T) {
	cfg, err := load(t, "mongodb")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Provider != ProviderMongoDB || !strings.Contains(string(cfg.MongoDB.URI), "replicaSet=rs0") ||
		cfg.MongoDB.TLS.Get() == nil || cfg.MongoDB.TLS.Get().KeyFile != "/etc/courier/mongo-client-key.pem" {
		t.Fatalf("%+v", cfg.MongoDB)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"bad_provider", []string{`provider: "cassandra"`}},
		{"no_dsn", []string{"postgresql::dsn: required"}},
		{"no_uri", []string{"mongodb::uri: required"}},
		{"empty_table", []string{"postgresql::changelog_table: must not be empty"}},
		{"bad_poll_interval", []string{"postgresql::poll_interval: must be positive"}},
		{"empty_database", []string{"mongodb::database: must not be empty"}},
		{"empty_client_name", []string{"client_name: must not be empty"}},
		{"empty_event_source", []string{"event_source: must not be empty"}},
		{"bad_backfill", []string{"backfill::max_age", "backfill::max_events", "backfill::batch_size", "backfill::rate_limit"}},
		{"zero_max_in_flight", []string{"max_in_flight: must be at least 1"}},
		{"zero_max_batch_events", []string{"max_batch_events: must be at least 1"}},
		{"bad_retry_interval", []string{"leader_election::retry_interval: must be positive"}},
		{"bad_dead_letter", []string{"max_split_depth: must be between 0 and 30", "dead_letter::max_size: must be positive", "dead_letter::on_full: must be drop_oldest or drop_new"}},
		{"short_lease", []string{"leader_election::lease_duration: must be more than twice retry_interval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.name)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestDSNNotPrinted: the DSN is a configopaque value, so printing the
// config does not show its password.
func TestDSNNotPrinted(t *testing.T) {
	cfg, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprint(cfg.PostgreSQL)} {
		if strings.Contains(s, "secret") {
			t.Fatalf("the DSN's password printed: %s", s)
		}
	}
}
