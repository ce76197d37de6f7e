package postgres

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{DSN: "postgres://x"}.withDefaults()
	if c.NotifyChannel != "nvsentinel_changes" || c.HealthEventsTable != "health_events" ||
		c.ChangelogTable != "datastore_changelog" || c.ResumeTokensTable != "resume_tokens" ||
		c.ClientName != "event-exporter" || c.PollInterval != time.Second || c.MaxGaps != 10_000 ||
		c.Backfill.BatchSize != 1_000 {
		t.Errorf("defaults = %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Error(err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*Config)
		key    string
	}{
		{func(c *Config) { c.DSN = "" }, "dsn"},
		{func(c *Config) { c.ChangelogTable = "a.b.c" }, "changelog_table"},
		{func(c *Config) { c.HealthEventsTable = "nvsentinel." }, "health_events_table"},
		{func(c *Config) { c.Backfill.MaxAge = -time.Hour }, "backfill.max_age"},
		{func(c *Config) { c.Backfill.MaxEvents = -1 }, "backfill.max_events"},
		{func(c *Config) { c.Backfill.RateLimit = -1 }, "backfill.rate_limit"},
	} {
		c := Config{DSN: "postgres://x"}.withDefaults()
		tc.mutate(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error %v, want one naming the key", tc.key, err)
		}
	}
}

func TestNames(t *testing.T) {
	if got := quoteName("nvsentinel.health_events"); got != `"nvsentinel"."health_events"` {
		t.Errorf("quoteName = %s", got)
	}
	if got := bareName("nvsentinel.health_events"); got != "health_events" {
		t.Errorf("bareName = %s", got)
	}
	if got := bareName("health_events"); got != "health_events" {
		t.Errorf("bareName = %s", got)
	}
}
