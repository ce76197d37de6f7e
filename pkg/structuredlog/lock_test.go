package structuredlog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestTryLock(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Options{Dir: dir, Name: "a.log", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	open := func() *os.File {
		f, err := os.OpenFile(filepath.Join(dir, "a.log"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		return f
	}
	r1, r2 := open(), open()
	if err := TryLockShared(r1); err != nil {
		t.Fatalf("shared lock: %v", err)
	}
	if err := TryLockShared(r2); err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if err := TryLockExclusive(r2); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive lock while another descriptor holds a shared one: got %v, want ErrLocked", err)
	}
	// A reader's lock keeps an in-process Writer out (open file description
	// locks), so the write must wait until it is released.
	done := make(chan error, 1)
	go func() {
		_, err := w.Write("com.example.t", "example-1.0", nil)
		done <- err
	}()
	if err := Unlock(r1); err != nil {
		t.Fatal(err)
	}
	if err := Unlock(r2); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// An exclusive lock shuts out shared ones until the descriptor closes.
	lf, err := os.OpenFile(filepath.Join(dir, "x.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := TryLockExclusive(lf); err != nil {
		t.Fatal(err)
	}
	other, err := os.OpenFile(filepath.Join(dir, "x.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	if err := TryLockExclusive(other); !errors.Is(err, ErrLocked) {
		t.Fatalf("second exclusive lock: got %v, want ErrLocked", err)
	}
	if err := lf.Close(); err != nil {
		t.Fatal(err)
	}
	if err := TryLockExclusive(other); err != nil {
		t.Fatalf("after close: %v", err)
	}
}
