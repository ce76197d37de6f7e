package matcher

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.log", "a.1.log", "b.log", "notes.txt", "sub/c.log", "sub/d.log"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(
		[]string{filepath.Join(dir, "*.log"), filepath.Join(dir, "a*.log"), filepath.Join(dir, "*", "*.log")},
		[]string{filepath.Join(dir, "*.1.log"), filepath.Join(dir, "sub", "d.log")},
	)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Match()
	want := []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"), filepath.Join(dir, "sub", "c.log")}
	if !slices.Equal(got, want) {
		t.Fatalf("Match() = %q, want %q", got, want)
	}
	if dirs := m.Dirs(); !slices.Equal(dirs, []string{dir}) {
		t.Fatalf("Dirs() = %q, want [%q]", dirs, dir)
	}
	if _, err := New([]string{"[bad"}, nil); err == nil {
		t.Fatal("bad include pattern accepted")
	}
	if _, err := New(nil, []string{"x/[bad"}); err == nil {
		t.Fatal("bad exclude pattern accepted")
	}
}
