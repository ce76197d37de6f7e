package structuredlogreceiver

import (
	"github.com/courier-otel/courier/internal/deadletter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
)

func TestConfigStruct(t *testing.T) {
	if err := componenttest.CheckConfigStruct(createDefaultConfig()); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultConfig(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home folder:", err)
	}
	cfg, err := testutil.LoadConfig(t, component.NewID(metadata.Type), NewFactory())
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Include:            []string{filepath.Join(home, ".nvidia-omniverse", "logs", "*.log")},
		PollInterval:       time.Second,
		StartAt:            "beginning",
		SeekTagName:        "seek",
		WriteSeekTag:       true,
		MaxBatchEvents:     1000,
		MaxInFlightBatches: 4,
		MaxEventSize:       10000000,
		Mode:               "prod",
		MessageMatchMode:   "all",
		MaxConcurrentFiles: 1024,
		MaxSplitDepth:      16,
		DeadLetter:         deadletter.Settings{MaxSize: 100 << 20, OnFull: deadletter.DropOldest},
	}
	if got := cfg.(*Config); !equalConfig(got, want) {
		t.Fatalf("default config\n got %+v\nwant %+v", got, want)
	}
}

func TestDefaultIncludeWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	cfg := createDefaultConfig().(*Config)
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "include") || !strings.Contains(err.Error(), "HOME") {
		t.Fatalf("Validate without HOME: %v", err)
	}
}

func TestFullConfig(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, component.MustNewIDWithName("structured_log", "full"), NewFactory())
	if err != nil {
		t.Fatal(err)
	}
	storage := component.MustNewIDWithName("file_storage", "progress")
	want := &Config{
		Include:            []string{"/var/log/omniverse/*.log", "/home/*/.nvidia-omniverse/logs/*.log"},
		Exclude:            []string{"/var/log/omniverse/*.[0-9].log"},
		PollInterval:       250 * time.Millisecond,
		StartAt:            "end",
		Storage:            &storage,
		SeekTagName:        "courier_seek",
		WriteSeekTag:       false,
		ResendEvents:       true,
		MaxBatchEvents:     500,
		MaxInFlightBatches: 2,
		MaxEventSize:       1 << 20,
		Mode:               "dev",
		MessageMatchMode:   "matching+",
		MaxConcurrentFiles: 64,
		MaxSplitDepth:      8,
		DeadLetter:         deadletter.Settings{Directory: "/var/lib/otelcol-courier/dead-letter", MaxSize: 1 << 20, OnFull: deadletter.DropNew},
	}
	if got := cfg.(*Config); !equalConfig(got, want) {
		t.Fatalf("full config\n got %+v\nwant %+v", got, want)
	}
	if _, err := testutil.LoadConfig(t, component.MustNewIDWithName("structured_log", "match_list"), NewFactory()); err != nil {
		t.Fatal(err)
	}
}

func equalConfig(a, b *Config) bool {
	sa, sb := *a, *b
	if (sa.Storage == nil) != (sb.Storage == nil) || sa.Storage != nil && *sa.Storage != *sb.Storage {
		return false
	}
	sa.Storage, sb.Storage = nil, nil
	return strings.Join(sa.Include, "\x00") == strings.Join(sb.Include, "\x00") &&
		strings.Join(sa.Exclude, "\x00") == strings.Join(sb.Exclude, "\x00") &&
		sa.PollInterval == sb.PollInterval && sa.StartAt == sb.StartAt && sa.SeekTagName == sb.SeekTagName &&
		sa.WriteSeekTag == sb.WriteSeekTag && sa.ResendEvents == sb.ResendEvents &&
		sa.MaxBatchEvents == sb.MaxBatchEvents && sa.MaxEventSize == sb.MaxEventSize && sa.Mode == sb.Mode &&
		sa.MessageMatchMode == sb.MessageMatchMode && sa.MaxConcurrentFiles == sb.MaxConcurrentFiles &&
		sa.MaxSplitDepth == sb.MaxSplitDepth && sa.DeadLetter == sb.DeadLetter
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		section string
		want    []string // substrings of the error
	}{
		{"no_include", []string{"include:", "at least one"}},
		{"bad_include", []string{"include:", "/logs/[a-"}},
		{"bad_exclude", []string{"exclude:", "/logs/[a-"}},
		{"unexpanded_include", []string{"include:", "unexpanded"}},
		{"zero_poll_interval", []string{"poll_interval:"}},
		{"bad_start_at", []string{"start_at:", "middle"}},
		{"empty_seek_tag_name", []string{"seek_tag_name:", "empty"}},
		{"reserved_seek_tag_name", []string{"seek_tag_name:", "time"}},
		{"bad_seek_tag_name", []string{"seek_tag_name:", "a/b"}},
		{"zero_max_batch_events", []string{"max_batch_events:"}},
		{"zero_max_in_flight_batches", []string{"max_in_flight_batches:"}},
		{"zero_max_event_size", []string{"max_event_size:"}},
		{"bad_mode", []string{"mode:", "staging"}},
		{"bad_message_match_mode", []string{"message_match_mode:", "staging"}},
		{"zero_max_concurrent_files", []string{"max_concurrent_files:"}},
		{"bad_dead_letter", []string{"max_split_depth: must be between 0 and 30", "dead_letter::max_size: must be positive", "dead_letter::on_full: must be drop_oldest or drop_new"}},
	} {
		t.Run(tc.section, func(t *testing.T) {
			_, err := testutil.LoadConfig(t, component.MustNewIDWithName("structured_log", tc.section), NewFactory())
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestREADMEExamples(t *testing.T) {
	testutil.READMEExamples(t, "receivers", NewFactory())
}
