// Package matcher lists the files that the include patterns match and the
// exclude patterns do not.
package matcher

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Matcher matches paths against include and exclude globs
// (filepath.Match syntax: *, ?, [...] within one path element).
type Matcher struct {
	include, exclude []string
}

// New checks and cleans the patterns. Relative patterns are made absolute
// so that reported paths do not depend on the working folder later.
func New(include, exclude []string) (*Matcher, error) {
	m := &Matcher{}
	for _, p := range include {
		c, err := clean(p)
		if err != nil {
			return nil, fmt.Errorf("include: %w", err)
		}
		m.include = append(m.include, c)
	}
	for _, p := range exclude {
		c, err := clean(p)
		if err != nil {
			return nil, fmt.Errorf("exclude: %w", err)
		}
		m.exclude = append(m.exclude, c)
	}
	return m, nil
}

func clean(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("pattern %q: %w", p, err)
	}
	if _, err := filepath.Match(abs, ""); err != nil {
		return "", fmt.Errorf("pattern %q: %w", p, err)
	}
	return abs, nil
}

// Match returns the matching paths, sorted and without duplicates. Files
// that vanish while the folder is read are simply not listed.
func (m *Matcher) Match() []string {
	var paths []string
	for _, p := range m.include {
		found, _ := filepath.Glob(p) // the pattern was checked in New
		paths = append(paths, found...)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if len(m.exclude) == 0 {
		return paths
	}
	return slices.DeleteFunc(paths, m.Excluded)
}

// Excluded reports whether path matches an exclude pattern.
func (m *Matcher) Excluded(path string) bool {
	for _, p := range m.exclude {
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}

// Dirs returns the folders the include patterns read, without duplicates:
// each pattern's folder, or its deepest folder without glob characters when
// the folder part itself is a pattern. The receiver watches them for changes
// and keeps its single-instance lock in them.
func (m *Matcher) Dirs() []string {
	var dirs []string
	for _, p := range m.include {
		dir := filepath.Dir(p)
		for hasMeta(dir) {
			dir = filepath.Dir(dir)
		}
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

func hasMeta(path string) bool {
	return strings.ContainsAny(path, `*?[\`)
}
