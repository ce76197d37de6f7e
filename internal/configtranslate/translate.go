// Package configtranslate turns the configuration of the programs Courier
// replaces into Courier collector configs: the Omniverse telemetry
// transmitter's settings (SPEC.md B) and the NVSentinel event-exporter's Helm
// values (SPEC.md A.5). It is the library behind cmd/courier-config.
//
// A translation never drops a setting silently: what it cannot carry over is
// returned as a warning naming the setting, and what it had to choose (an
// environment placeholder for a value the input does not hold, a default
// that differs between the two programs) as a note. Both are also written
// as comments at the top of the generated config.
package configtranslate // import "github.com/courier-otel/courier/internal/configtranslate"

import (
	"slices"
	"strings"
)

// Result is a generated config and what the translation could not carry
// over exactly.
type Result struct {
	// Config is the collector config, YAML.
	Config []byte
	// Warnings name settings that were not translated: unknown ones and
	// ones Courier has no equivalent for.
	Warnings []string
	// Notes record choices the reader should check: placeholders for values
	// the input does not hold, defaults picked where the input is silent.
	Notes []string
}

// Environment variables the generated configs read, for values that the
// translated settings do not hold or that are secrets. The datastore's are
// NVSentinel's own (store-client's env_loader), which its chart gives its
// exporter's pod: see nvsentinel.go.
const (
	EnvSchemasURL      = "COURIER_SCHEMAS_URL"
	EnvAuthTokenURL    = "COURIER_AUTH_TOKEN_URL"
	EnvPseudonymizeKey = "COURIER_PSEUDONYMIZE_KEY"
	EnvDeadLetterDir   = "COURIER_DEAD_LETTER_DIR"
)

func envRef(name string) string { return "${env:" + name + "}" }

// envRefOr is ${env:NAME:-def}: def when NAME is unset or empty.
func envRefOr(name, def string) string { return "${env:" + name + ":-" + def + "}" }

// header is the comment at the top of a generated config. It sorts the
// report's warnings and notes by path, the order a reader looks them up in.
func header(intro string, env []string, r *report) string {
	slices.Sort(r.warnings)
	slices.Sort(r.notes)
	var b strings.Builder
	b.WriteString(intro)
	if len(env) > 0 {
		b.WriteString("\n\nEnvironment variables this config reads:")
		for _, e := range env {
			b.WriteString("\n  " + e)
		}
	}
	if len(r.warnings) > 0 {
		b.WriteString("\n\nNot translated:")
		for _, w := range r.warnings {
			b.WriteString("\n  " + w)
		}
	}
	if len(r.notes) > 0 {
		b.WriteString("\n\nNotes:")
		for _, n := range r.notes {
			b.WriteString("\n  " + n)
		}
	}
	return b.String()
}
