package oldeventsprocessor

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

// minKeyLen is the shortest pseudonymization key accepted, in bytes.
const minKeyLen = 16

// maxThresholdDays bounds threshold_days (a century).
const maxThresholdDays = 36500

// Config is the old_events configuration.
type Config struct {
	// ThresholdDays makes an event old when its time is more than this many
	// days ago; 0 leaves it to the schema and event thresholds (off when
	// there are none).
	ThresholdDays int `mapstructure:"threshold_days"`
	// IgnoreOldEvents drops old events; it overrides everything else.
	IgnoreOldEvents bool `mapstructure:"ignore_old_events"`
	// PseudonymizeOldEvents pseudonymizes old events instead of anonymizing
	// them.
	PseudonymizeOldEvents bool `mapstructure:"pseudonymize_old_events"`
	// PseudonymizeKey (or the content of PseudonymizeKeyFile) is the
	// HMAC-SHA256 key of pseudonymization.
	PseudonymizeKey     configopaque.String `mapstructure:"pseudonymize_key"`
	PseudonymizeKeyFile string              `mapstructure:"pseudonymize_key_file"`
	// IdentifyingFields are extra top-level event members (extension
	// attributes) that identify a user or machine: removed when anonymizing,
	// pseudonymized with source and session.
	IdentifyingFields []string `mapstructure:"identifying_fields"`
	// Registry, optional, is a schema_registry extension whose schema and
	// event flags and thresholds apply.
	Registry component.ID `mapstructure:"registry"`
}

func (cfg *Config) hasKey() bool {
	return cfg.PseudonymizeKey != "" || cfg.PseudonymizeKeyFile != ""
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ThresholdDays < 0 || cfg.ThresholdDays > maxThresholdDays {
		errs = append(errs, fmt.Errorf("threshold_days: must be 0 (off) to %d days, not %d", maxThresholdDays, cfg.ThresholdDays))
	}
	if cfg.PseudonymizeKey != "" && cfg.PseudonymizeKeyFile != "" {
		errs = append(errs, errors.New("pseudonymize_key, pseudonymize_key_file: set one, not both"))
	}
	if cfg.PseudonymizeOldEvents && !cfg.hasKey() {
		errs = append(errs, errors.New("pseudonymize_key: required when pseudonymize_old_events is true (or set pseudonymize_key_file)"))
	}
	if cfg.PseudonymizeKey != "" && len(cfg.PseudonymizeKey) < minKeyLen {
		errs = append(errs, fmt.Errorf("pseudonymize_key: must be at least %d bytes", minKeyLen))
	}
	seen := map[string]bool{}
	for i, f := range cfg.IdentifyingFields {
		switch {
		case f == "":
			errs = append(errs, fmt.Errorf("identifying_fields[%d]: empty name", i))
		case structuredlog.IsReservedName(f) || f == "subject" || f == "datacontenttype":
			errs = append(errs, fmt.Errorf("identifying_fields[%d]: %q is an envelope member, not an extra field (source and session are always handled)", i, f))
		case seen[f]:
			errs = append(errs, fmt.Errorf("identifying_fields[%d]: %q is listed twice", i, f))
		}
		seen[f] = true
	}
	return errors.Join(errs...)
}
