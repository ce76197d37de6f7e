package deadletterreceiver

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Values of after_replay.
const (
	AfterReplayMove   = "move"
	AfterReplayDelete = "delete"
)

// Config is the dead_letter receiver's configuration; see the README.
type Config struct {
	// Directory holds the dead-letter files (an exporter's or receiver's
	// dead_letter::directory).
	Directory string `mapstructure:"directory"`
	// Pattern selects the files in Directory (filepath.Match syntax); the
	// default takes the files of every component.
	Pattern string `mapstructure:"pattern"`
	// Reasons selects the records by their reason.
	Reasons ReasonsConfig `mapstructure:"reasons"`
	// AfterReplay is what happens to a file once all its events were
	// accepted: move (into DoneDirectory) or delete.
	AfterReplay string `mapstructure:"after_replay"`
	// DoneDirectory receives the replayed files; default
	// <directory>/replayed.
	DoneDirectory string `mapstructure:"done_directory"`
	// DoneMaxSize bounds the bytes of the files in DoneDirectory: the
	// oldest are deleted beyond it. 0: no bound.
	DoneMaxSize int64 `mapstructure:"done_max_size"`
	// MinFileAge: a file is finished only once it was not modified for this
	// long, so that a file a writer may still append to is not moved.
	MinFileAge time.Duration `mapstructure:"min_file_age"`
	// PollInterval is how often Directory is scanned.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// MaxBatchEvents bounds the events of one ConsumeLogs call.
	MaxBatchEvents int `mapstructure:"max_batch_events"`
	// MaxRecordSize bounds one dead-letter line in bytes; longer lines are
	// skipped and counted.
	MaxRecordSize int `mapstructure:"max_record_size"`
	// Storage names a storage extension that keeps each file's progress,
	// so that after a crash a file resumes where it stood instead of being
	// replayed from its start.
	Storage *component.ID `mapstructure:"storage"`

	_ struct{}
}

// ReasonsConfig filters records by reason: with Include, only those
// reasons; never those of Exclude.
type ReasonsConfig struct {
	Include []string `mapstructure:"include"`
	Exclude []string `mapstructure:"exclude"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every message names the key.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Directory == "" {
		add("directory: required")
	}
	if c.Pattern == "" {
		add("pattern: must not be empty")
	} else if _, err := filepath.Match(c.Pattern, ""); err != nil {
		add("pattern: %q: %v", c.Pattern, err)
	}
	for _, r := range c.Reasons.Include {
		if r == "" {
			add("reasons::include: empty reason")
		}
		if slices.Contains(c.Reasons.Exclude, r) {
			add("reasons::include: %q is also in reasons::exclude", r)
		}
	}
	switch c.AfterReplay {
	case AfterReplayMove, AfterReplayDelete:
	default:
		add("after_replay: %q is not one of move, delete", c.AfterReplay)
	}
	if c.AfterReplay == AfterReplayMove && c.DoneDirectory != "" && c.Directory != "" &&
		filepath.Clean(c.DoneDirectory) == filepath.Clean(c.Directory) {
		add("done_directory: must not be directory itself")
	}
	if c.DoneMaxSize < 0 {
		add("done_max_size: must not be negative, got %d", c.DoneMaxSize)
	}
	if c.MinFileAge < 0 {
		add("min_file_age: must not be negative, got %s", c.MinFileAge)
	}
	if c.PollInterval <= 0 {
		add("poll_interval: must be positive, got %s", c.PollInterval)
	}
	if c.MaxBatchEvents < 1 {
		add("max_batch_events: must be at least 1, got %d", c.MaxBatchEvents)
	}
	if c.MaxRecordSize < 1 {
		add("max_record_size: must be at least 1 byte, got %d", c.MaxRecordSize)
	}
	return errors.Join(errs...)
}

// doneDirectory is where replayed files are moved.
func (c *Config) doneDirectory() string {
	if c.DoneDirectory != "" {
		return c.DoneDirectory
	}
	return filepath.Join(c.Directory, "replayed")
}

// wants reports whether records of reason are replayed.
func (c *Config) wants(reason string) bool {
	if slices.Contains(c.Reasons.Exclude, reason) {
		return false
	}
	return len(c.Reasons.Include) == 0 || slices.Contains(c.Reasons.Include, reason)
}
