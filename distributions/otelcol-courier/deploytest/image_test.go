package deploytest

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction: its keyword and arguments.
type instruction struct {
	cmd  string
	args string
}

// parseDockerfile reads the instructions of a Dockerfile: comments dropped,
// continuation lines joined. Enough for this project's Dockerfile, which has
// no parser directives, heredocs or build arguments.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	var out []instruction
	var line string
	for raw := range strings.SplitSeq(readFile(t, path), "\n") {
		raw = strings.TrimSpace(raw)
		if strings.HasPrefix(raw, "#") || (raw == "" && line == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(raw, `\`); ok {
			line += cont + " "
			continue
		}
		line += raw
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		line = ""
	}
	return out
}

// dockerignored reports whether .dockerignore keeps name out of the build
// context (last matching pattern wins; `!` re-includes).
func dockerignored(t *testing.T, name string) bool {
	t.Helper()
	ignored := false
	for p := range strings.SplitSeq(readFile(t, filepath.Join(distDir, ".dockerignore")), "\n") {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		include, negated := strings.CutPrefix(p, "!")
		if ok, err := filepath.Match(include, name); err != nil {
			t.Fatalf(".dockerignore pattern %q: %v", p, err)
		} else if ok {
			ignored = !negated
		}
	}
	return ignored
}

// execForm decodes an instruction's JSON array form.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("%s %s: not in exec (JSON array) form: %v", in.cmd, in.args, err)
	}
	return argv
}

// TestDockerfile checks what the image build relies on, since no container
// engine runs here: the files it copies exist in the context after
// `make build` and are not ignored, the binary is statically linked (the base
// image has no C library), the entrypoint and the config it names are the
// ones copied, the config validates, and the user is not root.
func TestDockerfile(t *testing.T) {
	collectorBinary(t)            // a clear message when `make build` has not run
	copied := map[string]string{} // destination in the image -> source in the context
	var entrypoint, cmd []string
	var user string
	for _, in := range parseDockerfile(t, filepath.Join(distDir, "Dockerfile")) {
		switch in.cmd {
		case "FROM":
			if !strings.HasPrefix(in.args, "gcr.io/distroless/static") || !strings.HasSuffix(in.args, ":nonroot") {
				t.Errorf("FROM %s: want distroless static, nonroot", in.args)
			}
		case "COPY":
			fields := strings.Fields(in.args)
			if len(fields) != 2 || strings.HasPrefix(fields[0], "--") {
				t.Fatalf("COPY %s: want one source and one destination", in.args)
			}
			src, dst := fields[0], fields[1]
			if _, err := os.Stat(filepath.Join(distDir, src)); err != nil {
				t.Errorf("COPY %s: %v", in.args, err)
			}
			if dockerignored(t, src) {
				t.Errorf("COPY %s: .dockerignore leaves %s out of the build context", in.args, src)
			}
			copied[dst] = src
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		}
	}

	if user == "" || user == "0" || strings.HasPrefix(user, "0:") || strings.HasPrefix(user, "root") {
		t.Errorf("USER %q: the image must not run as root", user)
	}
	if len(entrypoint) != 1 || copied[entrypoint[0]] != "otelcol-courier" {
		t.Fatalf("ENTRYPOINT %q is not the copied otelcol-courier binary", entrypoint)
	}
	checkStatic(t, filepath.Join(distDir, "otelcol-courier"))

	if len(cmd) != 1 || !strings.HasPrefix(cmd[0], "--config=") {
		t.Fatalf("CMD %q: want --config=<path>", cmd)
	}
	configPath := strings.TrimPrefix(cmd[0], "--config=")
	if configPath != "/etc/otelcol-courier/config.yaml" {
		t.Errorf("CMD names %s, want the chart's mount path /etc/otelcol-courier/config.yaml", configPath)
	}
	src, ok := copied[configPath]
	if !ok {
		t.Fatalf("CMD names %s, which no COPY provides", configPath)
	}
	validateConfigFile(t, filepath.Join(distDir, src), nil)
}

// checkStatic fails unless the ELF binary at path needs no dynamic loader
// and no shared library.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %s segment: it is dynamically linked (build with CGO_ENABLED=0)", path, p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil {
		t.Errorf("%s: %v", path, err)
	} else if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}
