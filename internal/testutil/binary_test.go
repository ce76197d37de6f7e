package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

func TestGoModModule(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"module github.com/courier-otel/courier\n\ngo 1.26\n":          ModulePath,
		"// header\nmodule \"github.com/courier-otel/courier\" // x\n": ModulePath,
		"module\tgithub.com/other/mod\n":                               "github.com/other/mod",
		"go 1.26\n":                                                    "",
	} {
		path := filepath.Join(dir, "go.mod")
		writeFile(t, path, content, 0o644)
		got, err := goModModule(path)
		if err != nil || got != want {
			t.Errorf("goModModule(%q) = %q, %v; want %q", content, got, err, want)
		}
	}
}

func TestModuleRootSkipsOtherModules(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module "+ModulePath+"\n", 0o644)
	// Like the builder's generated module in distributions/otelcol-courier.
	writeFile(t, filepath.Join(root, "dist", "go.mod"), "module "+ModulePath+"/dist\n", 0o644)
	wd := filepath.Join(root, "dist", "sub")
	if err := os.MkdirAll(wd, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(wd)
	if got := ModuleRoot(t); got != root {
		t.Errorf("ModuleRoot() = %q, want %q", got, root)
	}
}

func TestCollectorBinaryFromEnv(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "otelcol-courier")
	writeFile(t, bin, "#!/bin/sh\n", 0o755)
	t.Setenv(BinaryEnv, bin)
	if got := CollectorBinary(t); got != bin {
		t.Errorf("CollectorBinary() = %q, want %q", got, bin)
	}
}

func TestCollectorBinaryDefaultPath(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module "+ModulePath+"\n", 0o644)
	bin := filepath.Join(root, DistDir, BinaryName)
	writeFile(t, bin, "#!/bin/sh\n", 0o755)
	t.Setenv(BinaryEnv, "")
	t.Chdir(filepath.Join(root, DistDir))
	if got := CollectorBinary(t); got != bin {
		t.Errorf("CollectorBinary() = %q, want %q", got, bin)
	}
}
