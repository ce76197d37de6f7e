package fileid

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIdentityFollowsRename(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "a.1.log")
	if err := os.WriteFile(a, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	if !before.Regular || before.Size != 6 || before.Nlink != 1 {
		t.Fatalf("stat = %+v", before)
	}
	f, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	after, err := Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID {
		t.Fatalf("rename changed identity: %v → %v", before.ID, after.ID)
	}
	if err := os.WriteFile(a, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh, err := Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ID == before.ID {
		t.Fatal("a new file has the rotated file's identity")
	}
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	open, err := Fstat(f)
	if err != nil {
		t.Fatal(err)
	}
	if open.ID != before.ID || open.Nlink != 0 {
		t.Fatalf("fstat of the deleted file = %+v", open)
	}
	if _, err := Stat(b); !os.IsNotExist(err) {
		t.Fatalf("stat of a deleted file: %v", err)
	}
	if d, err := Stat(dir); err != nil || d.Regular {
		t.Fatalf("stat of a folder = %+v, %v", d, err)
	}
}
