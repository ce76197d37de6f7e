package main

import (
	"bytes"
	"testing"

	"github.com/courier-otel/courier/testbed/loadgen"
)

func TestLogs(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"logs", "-dir", t.TempDir(), "-count", "20", "-bad", "0.2", "-seed", "7"}, &out); err != nil {
		t.Fatal(err)
	}
	var l loadgen.Ledger
	if _, err := l.ReadFrom(&out); err != nil {
		t.Fatal(err)
	}
	if l.Len() != 20 || l.BadLines() == 0 {
		t.Fatalf("%d events and %d bad lines recorded, want 20 and some", l.Len(), l.BadLines())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"logs"}, {"nvsentinel", "-count", "1"}} {
		err := run(args, &bytes.Buffer{})
		if err == nil {
			t.Errorf("run(%q): no error", args)
		}
	}
}
