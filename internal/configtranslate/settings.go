package configtranslate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// report collects what a translation found wrong or left out. Errors stop the
// translation; warnings name settings that were not translated; notes record
// choices the reader of the output should know about.
type report struct {
	errs     []error
	warnings []string
	notes    []string
}

func (r *report) errorf(path, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (r *report) warnf(path, format string, args ...any) {
	r.warnings = append(r.warnings, path+": "+fmt.Sprintf(format, args...))
}

func (r *report) notef(path, format string, args ...any) {
	r.notes = append(r.notes, path+": "+fmt.Sprintf(format, args...))
}

func (r *report) err() error { return errors.Join(r.errs...) }

// object is one map of a settings document, read key by key. Every read marks
// the key as known, so that the keys nobody asked for can be reported by name
// instead of being dropped silently. Values are those of normalize.
type object struct {
	r    *report
	path string // where the object is, in the input's own notation
	sep  string // "/" for Carbonite settings paths, "." for Helm values
	m    map[string]any
	seen map[string]bool
}

func newObject(r *report, path, sep string, m map[string]any) *object {
	return &object{r: r, path: path, sep: sep, m: m, seen: map[string]bool{}}
}

// keyPath is the path of a key of o, as messages show it.
func (o *object) keyPath(key string) string {
	if o.path == "" && o.sep == "/" {
		return "/" + key // settings paths are absolute
	}
	if o.path == "" {
		return key
	}
	return o.path + o.sep + key
}

// get returns a key's value; a null value counts as not set.
func (o *object) get(key string) (any, bool) {
	o.seen[key] = true
	v, ok := o.m[key]
	return v, ok && v != nil
}

// has reports whether key is set, without marking it as read.
func (o *object) has(key string) bool { return o.m[key] != nil }

func (o *object) str(key string) (string, bool) {
	v, ok := o.get(key)
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		o.r.errorf(o.keyPath(key), "want a string, got %s", describe(v))
		return "", false
	}
	return s, true
}

func (o *object) boolean(key string) (bool, bool) {
	v, ok := o.get(key)
	if !ok {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		o.r.errorf(o.keyPath(key), "want true or false, got %s", describe(v))
		return false, false
	}
	return b, true
}

func (o *object) integer(key string) (int64, bool) {
	v, ok := o.get(key)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return n, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	o.r.errorf(o.keyPath(key), "want an integer, got %s", describe(v))
	return 0, false
}

func (o *object) number(key string) (float64, bool) {
	v, ok := o.get(key)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	o.r.errorf(o.keyPath(key), "want a number, got %s", describe(v))
	return 0, false
}

// strs reads a string or an array of strings, the two forms the transmitter
// accepts for its URL settings.
func (o *object) strs(key string) ([]string, bool) {
	v, ok := o.get(key)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, isStr := e.(string)
			if !isStr {
				o.r.errorf(fmt.Sprintf("%s%s%d", o.keyPath(key), o.sep, i), "want a string, got %s", describe(e))
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	o.r.errorf(o.keyPath(key), "want a string or an array of strings, got %s", describe(v))
	return nil, false
}

func (o *object) obj(key string) (*object, bool) {
	v, ok := o.get(key)
	if !ok {
		return nil, false
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		o.r.errorf(o.keyPath(key), "want an object, got %s", describe(v))
		return nil, false
	}
	return newObject(o.r, o.keyPath(key), o.sep, m), true
}

// unread returns the keys nobody read, sorted.
func (o *object) unread() []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		if !o.seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// warnUnknown reports every key nobody read as an unknown setting.
func (o *object) warnUnknown() {
	for _, k := range o.unread() {
		o.r.warnf(o.keyPath(k), "unknown setting, not translated")
	}
}

// describe names a value's type (and a short form of it) for type errors.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case int64:
		return fmt.Sprintf("number %d", x)
	case float64:
		return fmt.Sprintf("number %g", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// normalize turns what the JSON, TOML and YAML decoders produce into one
// model: map[string]any, []any, string, bool, int64, float64 and nil.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return x, nil
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case interface{ Int64() (int64, error) }: // json.Number
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.(interface{ Float64() (float64, error) }).Float64()
		return f, err
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out, nil
	case []map[string]any: // TOML arrays of tables
		return normalizeSlice(x)
	case []any:
		return normalizeSlice(x)
	}
	return nil, fmt.Errorf("unsupported value %v (%T)", v, v)
}

func normalizeSlice[E any](x []E) ([]any, error) {
	out := make([]any, len(x))
	for i, e := range x {
		n, err := normalize(e)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}
