package tracker

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
)

func TestFamily(t *testing.T) {
	for in, want := range map[string]string{
		"/d/X.log":                  "/d/X.log",
		"/d/X.1.log":                "/d/X.log",
		"/d/X.12.log":               "/d/X.log",
		"/d/omni.kit.sysinfo.log":   "/d/omni.kit.sysinfo.log",
		"/d/omni.kit.sysinfo.3.log": "/d/omni.kit.sysinfo.log",
		"/d/X":                      "/d/X",
		"/d/X.2":                    "/d/X",
		"/d/v1.2.x.log":             "/d/v1.2.x.log",
		"/d/.log":                   "/d/.log",
	} {
		if got := Family(in); got != want {
			t.Errorf("Family(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenBound(t *testing.T) {
	dir := t.TempDir()
	tr := New(2, false, Counters{})
	var files []*File
	for _, name := range []string{"a.log", "b.log", "c.log"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := fileid.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, tr.Add(info.ID, p, true, info.Size))
	}
	a, b, c := files[0], files[1], files[2]
	for _, f := range []*File{a, b} {
		if _, err := tr.Open(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Open(a); err != nil { // a is now the most recently used
		t.Fatal(err)
	}
	if _, err := tr.Open(c); err != nil {
		t.Fatal(err)
	}
	if tr.OpenCount() != 2 || b.FD() != nil || a.FD() == nil {
		t.Fatalf("open %d, b open %v, a open %v: want b (least recently used) closed", tr.OpenCount(), b.FD() != nil, a.FD() != nil)
	}
	a.InBatch, c.InBatch = true, true
	if _, err := tr.Open(b); !errors.Is(err, ErrAllBusy) {
		t.Fatalf("Open with every open file in the batch: %v", err)
	}
	c.InBatch = false
	a.State = StateActive
	if _, err := tr.Open(b); err != nil || c.FD() != nil {
		t.Fatalf("Open after the batch: %v", err)
	}
	tr.Close(a)
	if _, err := tr.Open(a); err != nil || !a.NeedVerify {
		t.Fatalf("reopened file not marked for verification: %v", err)
	}
	// A path that now names another file is refused. (The old file is held
	// open so that the new one cannot get its inode number.)
	hold, err := os.Open(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Close() }()
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, c.Path); err != nil {
		t.Fatal(err)
	}
	tr.Close(b)
	if _, err := tr.Open(c); !errors.Is(err, ErrReplaced) {
		t.Fatalf("Open of a replaced file: %v", err)
	}
	tr.Forget(a)
	if tr.Len() != 2 || tr.OpenCount() != 0 {
		t.Fatalf("after Forget: %d tracked, %d open", tr.Len(), tr.OpenCount())
	}
}
