// Package privacy reads the Omniverse privacy settings file,
// ~/.nvidia-omniverse/config/privacy.toml (SPEC.md B.4), and follows its
// changes.
//
// The file holds a [privacy] table with the booleans usage, performance and
// personalization (a missing one means no consent) and the user's userId:
//
//	[privacy]
//	performance = true
//	personalization = false
//	usage = true
//	userId = "jdoe@example.com"
package privacy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxFileSize bounds how much of the file is read; a real one is a few
// hundred bytes.
const MaxFileSize = 1 << 20

// DefaultPath returns the privacy file of the user whose home is home.
func DefaultPath(home string) string {
	return filepath.Join(home, ".nvidia-omniverse", "config", "privacy.toml")
}

// Consent is what the user agreed to.
type Consent struct {
	Usage           bool
	Performance     bool
	Personalization bool
	UserID          string
}

// Allows reports whether the user consented to the privacy category
// ("usage", "performance" or "personalization"). Any other category,
// including none, is not consented to.
func (c Consent) Allows(category string) bool {
	switch category {
	case "usage":
		return c.Usage
	case "performance":
		return c.Performance
	case "personalization":
		return c.Personalization
	}
	return false
}

// Parse reads the content of a privacy file. A consent value must be a
// boolean (the strings "true" and "false" are accepted too); a value of
// another type counts as no consent and is reported in the error, while the
// other keys still apply. A file that is not TOML yields no consent at all.
func Parse(b []byte) (Consent, error) {
	var doc map[string]any
	if err := toml.Unmarshal(b, &doc); err != nil {
		return Consent{}, fmt.Errorf("not valid TOML: %w", err)
	}
	var c Consent
	raw, ok := doc["privacy"]
	if !ok {
		return c, errors.New("no [privacy] table: no consent")
	}
	table, ok := raw.(map[string]any)
	if !ok {
		return c, errors.New("privacy is not a table: no consent")
	}
	var errs []error
	for key, dst := range map[string]*bool{"usage": &c.Usage, "performance": &c.Performance, "personalization": &c.Personalization} {
		v, ok := table[key]
		if !ok {
			continue
		}
		b, err := boolValue(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("privacy.%s: %w: no consent", key, err))
			continue
		}
		*dst = b
	}
	if id, ok := table["userId"].(string); ok {
		c.UserID = id
	}
	return c, errors.Join(errs...)
}

func boolValue(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("%q is not a boolean", v)
		}
		return b, nil
	}
	return false, fmt.Errorf("a %T is not a boolean", v)
}

// ReadFile reads and parses the privacy file at path.
func ReadFile(path string) (Consent, error) {
	f, err := os.Open(path)
	if err != nil {
		return Consent{}, err
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Consent{}, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return Consent{}, fmt.Errorf("%s is larger than %d bytes: no consent", path, MaxFileSize)
	}
	c, err := Parse(b)
	if err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
