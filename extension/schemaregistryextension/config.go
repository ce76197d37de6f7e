package schemaregistryextension

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Config is the schema_registry configuration.
type Config struct {
	// Sources are tried in order; the first that loads wins. Each is an
	// https:// (or http://) URL, a file:// URL or a path, naming a zip of
	// baked JSON schemas (at any depth), a directory of them or one JSON file.
	Sources []string `mapstructure:"sources"`
	// RefreshInterval reloads the sources this often; 0 loads once at start.
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`
	// CacheDir keeps the last good package, used when no source loads at
	// start. "" disables the cache.
	CacheDir string `mapstructure:"cache_dir"`
	// MaxDownloadSize bounds a package as fetched (a zip or a JSON file), in bytes.
	MaxDownloadSize int64 `mapstructure:"max_download_size"`
	// MaxExpandedSize bounds the JSON documents of one package together,
	// once decompressed, in bytes (zip-bomb guard).
	MaxExpandedSize int64 `mapstructure:"max_expanded_size"`

	// ClientConfig configures the HTTP client for URL sources: tls,
	// timeout, headers, proxy_url, auth, … Its endpoint is not used.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Sources) == 0 {
		errs = append(errs, errors.New("sources: at least one source is required"))
	}
	for i, s := range cfg.Sources {
		if _, _, err := parseSource(s); err != nil {
			errs = append(errs, fmt.Errorf("sources[%d]: %w", i, err))
		}
	}
	if cfg.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("refresh_interval: must be 0 (load once) or positive, not %s", cfg.RefreshInterval))
	} else if cfg.RefreshInterval > 0 && cfg.RefreshInterval < time.Second {
		errs = append(errs, fmt.Errorf("refresh_interval: %s is too short, use at least 1s (or 0 to load once)", cfg.RefreshInterval))
	}
	if cfg.MaxDownloadSize <= 0 {
		errs = append(errs, fmt.Errorf("max_download_size: must be a positive number of bytes, not %d", cfg.MaxDownloadSize))
	}
	if cfg.MaxExpandedSize <= 0 {
		errs = append(errs, fmt.Errorf("max_expanded_size: must be a positive number of bytes, not %d", cfg.MaxExpandedSize))
	}
	if cfg.ClientConfig.Endpoint != "" {
		errs = append(errs, errors.New("endpoint: not used by schema_registry; list package URLs under sources"))
	}
	if cfg.ClientConfig.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative, not %s", cfg.ClientConfig.Timeout))
	}
	return errors.Join(errs...)
}
