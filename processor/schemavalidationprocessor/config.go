package schemavalidationprocessor

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

// What happens to an event that fails validation.
const (
	OnInvalidDrop = "drop" // drop it and count it (the transmitter's behaviour)
	OnInvalidKeep = "keep" // pass it on, marked with the reason
)

// Config is the schema_validation configuration.
type Config struct {
	// Registry is the id of the schema_registry extension to validate with.
	Registry component.ID `mapstructure:"registry"`
	// OnInvalid is "drop" or "keep". Events without consent are always
	// dropped.
	OnInvalid string `mapstructure:"on_invalid"`
	// Consent says which privacy categories the user agreed to.
	Consent ConsentConfig `mapstructure:"consent"`
}

// ConsentConfig is the user's consent: the Omniverse privacy file, and
// explicit values that override it.
type ConsentConfig struct {
	// PrivacyFile is privacy.toml; "" reads no file. The default is
	// $HOME/.nvidia-omniverse/config/privacy.toml.
	PrivacyFile string `mapstructure:"privacy_file"`
	// PollInterval is how often the file is checked for changes; 0 reads
	// it once at start.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// Usage, Performance and Personalization, when set, override the file.
	Usage           *bool `mapstructure:"usage"`
	Performance     *bool `mapstructure:"performance"`
	Personalization *bool `mapstructure:"personalization"`
}

// explicit reports whether all three categories are set in the config, so
// the file does not matter.
func (c *ConsentConfig) explicit() bool {
	return c.Usage != nil && c.Performance != nil && c.Personalization != nil
}

// minPollInterval keeps the privacy file check cheap.
const minPollInterval = 100 * time.Millisecond

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Registry == (component.ID{}) {
		errs = append(errs, errors.New("registry: required: the id of a schema_registry extension"))
	}
	switch cfg.OnInvalid {
	case OnInvalidDrop, OnInvalidKeep:
	default:
		errs = append(errs, fmt.Errorf("on_invalid: must be %q or %q, not %q", OnInvalidDrop, OnInvalidKeep, cfg.OnInvalid))
	}
	c := &cfg.Consent
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("consent::poll_interval: must not be negative, not %s", c.PollInterval))
	} else if c.PollInterval > 0 && c.PollInterval < minPollInterval {
		errs = append(errs, fmt.Errorf("consent::poll_interval: %s is too short, use at least %s (or 0 to read once)", c.PollInterval, minPollInterval))
	}
	if c.PrivacyFile == "" && c.Usage == nil && c.Performance == nil && c.Personalization == nil {
		errs = append(errs, errors.New("consent: privacy_file is empty and none of usage, performance, personalization is set: every event would be dropped"))
	}
	return errors.Join(errs...)
}
