package structuredlogreceiver

import (
	"errors"
	"fmt"
	"github.com/courier-otel/courier/internal/deadletter"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/modematch"
)

// Values of start_at.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

// Config is the structured_log receiver's configuration; see the README.
type Config struct {
	// Include lists glob patterns (filepath.Match syntax) of the files to read.
	Include []string `mapstructure:"include"`
	// Exclude lists glob patterns of paths matched by Include to leave alone.
	Exclude []string `mapstructure:"exclude"`
	// PollInterval is how often the folders are scanned; file-system
	// notifications wake the receiver sooner when lines are appended.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// StartAt is where files found at start without any recorded progress
	// are read from: beginning or end. Files appearing later are always read
	// from their beginning.
	StartAt string `mapstructure:"start_at"`
	// Storage is the id of a storage extension that keeps each file's
	// progress across restarts.
	Storage *component.ID `mapstructure:"storage"`
	// SeekTagName is the header member that records this reader's progress
	// in each file, and names the single-instance lock.
	SeekTagName string `mapstructure:"seek_tag_name"`
	// WriteSeekTag writes progress into the file headers. Without it and
	// without Storage, progress lives in memory only.
	WriteSeekTag bool `mapstructure:"write_seek_tag"`
	// ResendEvents ignores all recorded progress and reads every file from
	// its beginning (testing).
	ResendEvents bool `mapstructure:"resend_events"`
	// MaxBatchEvents bounds the events handed downstream in one ConsumeLogs
	// call (the transmitter's queueLimit).
	MaxBatchEvents int `mapstructure:"max_batch_events"`
	// MaxInFlightBatches bounds the batches handed downstream whose
	// ConsumeLogs has not returned yet; progress is committed in order.
	MaxInFlightBatches int `mapstructure:"max_in_flight_batches"`
	// MaxEventSize is the largest event line in bytes, without its newline;
	// longer lines are skipped and counted.
	MaxEventSize int `mapstructure:"max_event_size"`
	// Mode is the receiver's own transmission mode: prod, dev or test.
	Mode string `mapstructure:"mode"`
	// MessageMatchMode selects events by the mode their source carries.
	MessageMatchMode string `mapstructure:"message_match_mode"`
	// MaxConcurrentFiles bounds the log files held open at once.
	MaxConcurrentFiles int `mapstructure:"max_concurrent_files"`
	// MaxSplitDepth bounds the halvings of a batch the next consumer
	// refused for good, to isolate the events it refuses alone.
	MaxSplitDepth int `mapstructure:"max_split_depth"`
	// DeadLetter keeps the events the next consumer refused for good, alone.
	DeadLetter deadletter.Settings `mapstructure:"dead_letter"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every message names the key.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Include) == 0 {
		errs = append(errs, errors.New("include: at least one pattern is required"))
	}
	for _, p := range c.Include {
		if err := checkPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("include: %w", err))
		}
	}
	for _, p := range c.Exclude {
		if err := checkPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("exclude: %w", err))
		}
	}
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll_interval: must be positive, got %s", c.PollInterval))
	}
	switch c.StartAt {
	case StartAtBeginning, StartAtEnd:
	default:
		errs = append(errs, fmt.Errorf("start_at: %q is not one of beginning, end", c.StartAt))
	}
	if err := structuredlog.CheckSeekTagName(c.SeekTagName); err != nil {
		errs = append(errs, fmt.Errorf("seek_tag_name: %w", err))
	}
	if c.MaxBatchEvents < 1 {
		errs = append(errs, fmt.Errorf("max_batch_events: must be at least 1, got %d", c.MaxBatchEvents))
	}
	if c.MaxInFlightBatches < 1 {
		errs = append(errs, fmt.Errorf("max_in_flight_batches: must be at least 1, got %d", c.MaxInFlightBatches))
	}
	if c.MaxEventSize < 1 {
		errs = append(errs, fmt.Errorf("max_event_size: must be at least 1 byte, got %d", c.MaxEventSize))
	}
	mode, err := parseMode(c.Mode)
	if err != nil {
		errs = append(errs, fmt.Errorf("mode: %w", err))
	}
	if _, err := modematch.Parse(c.MessageMatchMode, mode); err != nil {
		errs = append(errs, fmt.Errorf("message_match_mode: %w", err))
	}
	if c.MaxConcurrentFiles < 1 {
		errs = append(errs, fmt.Errorf("max_concurrent_files: must be at least 1, got %d", c.MaxConcurrentFiles))
	}
	if c.MaxSplitDepth < 0 || c.MaxSplitDepth > 30 {
		errs = append(errs, fmt.Errorf("max_split_depth: must be between 0 and 30, got %d", c.MaxSplitDepth))
	}
	if err := c.DeadLetter.Validate("dead_letter"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkPattern(p string) error {
	switch {
	case p == "":
		return errors.New("empty pattern")
	case strings.Contains(p, "${"):
		return fmt.Errorf("pattern %q holds an unexpanded variable (is HOME set?)", p)
	}
	if _, err := filepath.Match(p, ""); err != nil {
		return fmt.Errorf("pattern %q: %w", p, err)
	}
	return nil
}

// parseMode accepts exactly prod, dev and test.
func parseMode(s string) (structuredlog.Mode, error) {
	switch m := structuredlog.Mode(s); m {
	case structuredlog.ModeProd, structuredlog.ModeDev, structuredlog.ModeTest:
		return m, nil
	}
	return structuredlog.ModeProd, fmt.Errorf("%q is not one of prod, dev, test", s)
}
