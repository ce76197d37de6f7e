package deadletterreceiver

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/receiver/deadletterreceiver/internal/metadata"
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
	want := &Config{
		Directory: "/var/lib/otelcol-courier/dead-letter", Pattern: "*.jsonl", AfterReplay: "move",
		MinFileAge: 30 * time.Second, PollInterval: 10 * time.Second, MaxBatchEvents: 500, MaxRecordSize: 16 << 20,
		DoneMaxSize: 100 << 20,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
	if cfg.doneDirectory() != "/var/lib/otelcol-courier/dead-letter/replayed" {
		t.Fatalf("done directory %s", cfg.doneDirectory())
	}
	if !cfg.wants("too_large") {
		t.Fatal("the default replays every reason")
	}
}

func TestFullConfig(t *testing.T) {
	cfg, err := load(t, "full")
	if err != nil {
		t.Fatal(err)
	}
	storage := component.MustNewIDWithName("file_storage", "replay")
	want := &Config{
		Directory: "/var/lib/otelcol-courier/dead-letter", Pattern: "cloudevents_nvsentinel-*.jsonl",
		Reasons:     ReasonsConfig{Include: []string{"retries_exhausted", "rejected"}, Exclude: []string{"too_large"}},
		AfterReplay: "delete", DoneDirectory: "/var/lib/otelcol-courier/replayed",
		MinFileAge: time.Minute, PollInterval: 2 * time.Second, MaxBatchEvents: 100, MaxRecordSize: 1 << 20,
		Storage: &storage,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
	if !cfg.wants("rejected") || cfg.wants("too_large") || cfg.wants("other") {
		t.Fatal("reasons filter")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"no_directory", []string{"directory: required"}},
		{"bad_pattern", []string{"pattern: "}},
		{"include_excluded", []string{`reasons::include: "too_large" is also in reasons::exclude`}},
		{"bad_after_replay", []string{`after_replay: "rename"`}},
		{"done_is_directory", []string{"done_directory: must not be directory itself"}},
		{"bad_limits", []string{"min_file_age:", "poll_interval:", "max_batch_events:", "max_record_size:", "done_max_size:"}},
	} {
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
