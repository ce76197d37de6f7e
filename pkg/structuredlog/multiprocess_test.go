package structuredlog

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// Environment of a helper process started by TestMultiProcessAppend.
const (
	helperEnvDir   = "STRUCTUREDLOG_HELPER_DIR"
	helperEnvChild = "STRUCTUREDLOG_HELPER_CHILD"
)

const (
	helperFile   = "multi.log"
	helperEvents = 2000
	helperLimit  = 32 << 10
)

// TestHelperProcess is not a test: it is the body of the child processes
// TestMultiProcessAppend starts by running this test binary again.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnvDir)
	if dir == "" {
		return
	}
	child, err := strconv.Atoi(os.Getenv(helperEnvChild))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w, err := Open(Options{
		Dir: dir, Name: helperFile, Source: fmt.Sprint("child-", child),
		SizeLimit: helperLimit, RetentionCount: 100000, IDType: IDTypeUint64,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := range helperEvents {
		if _, err := w.Write("com.example.multi", "example-1.0", map[string]int{"writer": child, "seq": i}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestMultiProcessAppend has several processes append to one file with a
// small size limit, so that they also rotate it under each other.
func TestMultiProcessAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const children = 3
	dir := t.TempDir()
	cmds := make([]*exec.Cmd, children)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnvDir+"="+dir, helperEnvChild+"="+strconv.Itoa(i))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	files := readSet(t, dir, helperFile)
	if len(files) < 10 {
		t.Fatalf("only %d files: too little rotation to test", len(files))
	}
	for _, f := range files {
		if f.size > helperLimit {
			t.Errorf("%s is %d bytes, over the %d limit", f.path, f.size, helperLimit)
		}
	}
	checkInterleaved(t, files, children, helperEvents)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		t.Errorf("%d files in the folder, %d in the rotated set", len(entries), len(files))
	}
}
