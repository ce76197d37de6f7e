package eventmetadataprocessor

import (
	"errors"
	"fmt"
	"strings"
)

// Config enriches events with deployment metadata and a CloudEvent source.
type Config struct {
	// Metadata is merged into the event's data under DataPath.
	Metadata map[string]string `mapstructure:"metadata"`
	// DataPath is the member of data that receives Metadata; empty leaves
	// data alone (Metadata then only feeds the Source template).
	DataPath string `mapstructure:"data_path"`
	// Source, when set, is the CloudEvent source: a template whose {key}
	// placeholders name Metadata keys, e.g. nvsentinel://{cluster}/healthevents.
	Source string `mapstructure:"source"`
	// ExtensionAttributes are added as CloudEvent extension attributes.
	ExtensionAttributes map[string]string `mapstructure:"extension_attributes"`
	// Overwrite replaces values an event already has; by default they win.
	Overwrite bool `mapstructure:"overwrite"`

	_ struct{}
}

// Validate checks the config.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Metadata) == 0 && c.Source == "" && len(c.ExtensionAttributes) == 0 {
		errs = append(errs, errors.New("nothing to do: set at least one of metadata, source, extension_attributes"))
	}
	for k := range c.Metadata {
		if k == "" {
			errs = append(errs, errors.New("metadata: empty key"))
		}
	}
	if c.Source != "" {
		if _, err := renderSource(c.Source, c.Metadata); err != nil {
			errs = append(errs, fmt.Errorf("source: %w", err))
		}
	}
	for name := range c.ExtensionAttributes {
		if err := checkExtensionName(name); err != nil {
			errs = append(errs, fmt.Errorf("extension_attributes: %w", err))
		}
	}
	return errors.Join(errs...)
}

// reserved are the members of a CloudEvent that are not extensions.
var reserved = map[string]bool{
	"id": true, "source": true, "specversion": true, "type": true, "time": true, "subject": true,
	"dataschema": true, "datacontenttype": true, "data": true, "data_base64": true, "spec_version": true,
}

func checkExtensionName(name string) error {
	switch {
	case name == "":
		return errors.New("empty attribute name")
	case reserved[name]:
		return fmt.Errorf("%q is a CloudEvents context attribute, not an extension", name)
	case strings.ContainsAny(name, " \t\r\n\"{}"):
		return fmt.Errorf("%q is not a usable attribute name", name)
	}
	return nil
}

// renderSource replaces each {key} of tmpl by metadata[key].
func renderSource(tmpl string, metadata map[string]string) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			b.WriteString(rest)
			break
		}
		if rest[open] == '}' {
			return "", fmt.Errorf("unmatched '}' in %q", tmpl)
		}
		b.WriteString(rest[:open])
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] == '{' {
			return "", fmt.Errorf("unclosed '{' in %q", tmpl)
		}
		key := rest[open+1 : open+1+end]
		v, ok := metadata[key]
		if !ok {
			return "", fmt.Errorf("placeholder {%s} names no metadata key", key)
		}
		b.WriteString(v)
		rest = rest[open+end+2:]
	}
	if b.Len() == 0 {
		return "", errors.New("renders to an empty string")
	}
	return b.String(), nil
}
