package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/testbed/sink"
)

// The command builds, prints its URL, accepts an event with the token,
// reports it in its stats and exits 0 on SIGTERM.
func TestCommand(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is needed to build courier-sink: ", err)
	}
	bin := filepath.Join(t.TempDir(), "courier-sink")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-path", "/events", "-token", "s3cret",
		"-faults", `{"retry_after_seconds":1}`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL line: %v (stderr: %s)", err, stderr.String())
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/events") {
		t.Fatalf("first line %q is not the delivery URL", url)
	}

	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(
		`{"specversion":"1.0","id":"1","source":"test","type":"t","data":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", cloudevent.ContentTypeStructured)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: status %d", resp.StatusCode)
	}

	resp, err = http.Get(strings.TrimSuffix(url, "/events") + "/_sink/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st sink.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 1 || st.Distinct != 1 || st.Requests["2xx"] != 1 {
		t.Errorf("stats %+v", st)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v (stderr: %s)", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"events":1`) {
		t.Errorf("final stats not on stderr: %s", stderr.String())
	}
}

// Bad flags end the command with an error, not a half-configured sink.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-path", "events"},
		{"-faults", `{"unavailable_share":2}`},
		{"-faults", `{"latency":"x"}`},
		{"-addr", "256.0.0.1:0"},
	} {
		if err := run(args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
