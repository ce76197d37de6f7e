package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquire(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "seek")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, ".courier-seek.lock"); l.Path() != want {
		t.Fatalf("Path() = %s, want %s", l.Path(), want)
	}
	_, err = Acquire(dir, "seek")
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want ErrHeld", err)
	}
	for _, want := range []string{l.Path(), fmt.Sprintf("pid %d", os.Getpid()), `"seek"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	other, err := Acquire(dir, "other")
	if err != nil {
		t.Fatalf("another seek tag name: %v", err)
	}
	if err := other.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	again, err := Acquire(dir, "seek")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	_ = again.Release()
	if _, err := Acquire(filepath.Join(dir, "missing"), "seek"); err == nil || errors.Is(err, ErrHeld) {
		t.Fatalf("lock in a missing folder: %v", err)
	}
}
