// Package testutil holds helpers shared by Courier's tests: loading component
// configs and running component lifecycles (component.go), and, for
// end-to-end tests, locating the repository and the built otelcol-courier
// binary, picking free loopback ports, running the collector as a child
// process and polling with deadlines.
package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	// ModulePath is the path of the root Go module; ModuleRoot looks for the
	// go.mod that declares it.
	ModulePath = "github.com/courier-otel/courier"

	// BinaryEnv names the environment variable that points tests at the
	// collector binary. `make test` sets it to the binary it has just built so
	// that every end-to-end test of one run uses the same binary.
	BinaryEnv = "COURIER_BINARY"

	// DistDir is where the builder writes the distribution, relative to the
	// module root (dist.output_path in builder-config.yaml).
	DistDir = "distributions/otelcol-courier"

	// BinaryName is the collector binary's file name (dist.name).
	BinaryName = "otelcol-courier"
)

// ModuleRoot returns the absolute path of the repository root: the nearest
// directory, from the working directory upwards, whose go.mod declares
// ModulePath. Nested modules on the way (such as the generated one in
// distributions/otelcol-courier) are skipped.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := findModuleRoot()
	if err != nil {
		t.Fatalf("locate the %s module root: %v", ModulePath, err)
	}
	return root
}

func findModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for dir := wd; ; {
		name, err := goModModule(filepath.Join(dir, "go.mod"))
		switch {
		case err == nil && name == ModulePath:
			return dir, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod declaring module %s in %s or any parent directory", ModulePath, wd)
		}
		dir = parent
	}
}

// goModModule returns the module path declared by the go.mod file at path.
func goModModule(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read-only: a close error loses nothing
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return "", nil
}

// CollectorBinary returns the absolute path of the otelcol-courier binary to
// test: $COURIER_BINARY when set, otherwise the builder's default output under
// distributions/otelcol-courier. It fails the test when the binary is missing,
// because an end-to-end test that silently passes without a binary proves
// nothing.
func CollectorBinary(t testing.TB) string {
	t.Helper()
	path, fromEnv := os.LookupEnv(BinaryEnv)
	if !fromEnv || path == "" {
		path = filepath.Join(ModuleRoot(t), DistDir, BinaryName)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatalf("resolve collector binary path %q: %v", path, err)
	}
	// Stat also records the binary in the test log, so `go test` caching
	// notices a rebuilt binary and reruns the end-to-end tests.
	info, err := os.Stat(abs)
	switch {
	case err != nil && fromEnv:
		t.Fatalf("collector binary %s (from $%s): %v; run `make build` (or `make test`, which builds it)", abs, BinaryEnv, err)
	case err != nil:
		t.Fatalf("collector binary not found at %s: %v; run `make build` first, or `make test`, which builds it and sets $%s", abs, err, BinaryEnv)
	case info.IsDir() || info.Mode().Perm()&0o111 == 0:
		t.Fatalf("collector binary %s is not an executable file; run `make build`", abs)
	}
	return abs
}
