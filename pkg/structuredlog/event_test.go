package structuredlog

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func fixedNow() time.Time { return testTime }

// openTest opens a Writer in a fresh folder with deterministic settings,
// letting edit adjust them.
func openTest(t *testing.T, edit func(*Options)) *Writer {
	t.Helper()
	o := Options{
		Dir:     t.TempDir(),
		Name:    "omni.example.app.log",
		Source:  "alice@example.app",
		IDType:  IDTypeUint64,
		IDStart: 42,
		Session: "12345",
		Now:     fixedNow,
	}
	if edit != nil {
		edit(&o)
	}
	w, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// fileLines returns the lines of path after its header.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHeader(b); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	body := string(b[HeaderSize:])
	if body == "" {
		return nil
	}
	if !strings.HasSuffix(body, "\n") {
		t.Fatalf("%s ends with a torn line: %q", path, body)
	}
	return strings.Split(strings.TrimSuffix(body, "\n"), "\n")
}

func TestEventLineGolden(t *testing.T) {
	w := openTest(t, func(o *Options) {
		o.Mode = ModeDev
		o.Extra = map[string]string{"zeta": "z", "app": "a<b>&\"c\""}
	})
	data := struct {
		FeatureName string  `json:"featureName"`
		DurationMs  float64 `json:"durationMs"`
		Note        string  `json:"note"`
	}{"open", 1.5, "<html> & \u00e9"}
	id, err := w.Write("com.example.app.featureUsed", "example.app-1.0", data)
	if err != nil {
		t.Fatal(err)
	}
	if id != "42" {
		t.Fatalf("id = %q, want 42", id)
	}
	if _, err := w.WriteRaw("com.example.app.\"quoted\"", "example.app-1.0", json.RawMessage("  {\n  \"a\" : [1, 2],\n  \"b\":null }\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write("com.example.app.empty", "example.app-1.0", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteRaw("com.example.app.empty", "example.app-1.0", nil); err != nil {
		t.Fatal(err)
	}

	want := []string{
		`{"id":"42","source":"alice@example.app (dev)","specversion":"1.0","type":"com.example.app.featureUsed","dataschema":"example.app-1.0","time":"2025-03-04T05:06:07.123456Z","session":"12345","data":{"featureName":"open","durationMs":1.5,"note":"<html> & é"},"app":"a<b>&\"c\"","zeta":"z"}`,
		`{"id":"43","source":"alice@example.app (dev)","specversion":"1.0","type":"com.example.app.\"quoted\"","dataschema":"example.app-1.0","time":"2025-03-04T05:06:07.123456Z","session":"12345","data":{"a":[1,2],"b":null},"app":"a<b>&\"c\"","zeta":"z"}`,
		`{"id":"44","source":"alice@example.app (dev)","specversion":"1.0","type":"com.example.app.empty","dataschema":"example.app-1.0","time":"2025-03-04T05:06:07.123456Z","session":"12345","data":null,"app":"a<b>&\"c\"","zeta":"z"}`,
		`{"id":"45","source":"alice@example.app (dev)","specversion":"1.0","type":"com.example.app.empty","dataschema":"example.app-1.0","time":"2025-03-04T05:06:07.123456Z","session":"12345","data":null,"app":"a<b>&\"c\"","zeta":"z"}`,
	}
	got := fileLines(t, w.Path())
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, got[i], want[i])
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(got[i]), &v); err != nil {
			t.Errorf("line %d is not JSON: %v", i, err)
		}
	}
}

func TestEventLineUUIDAndSession(t *testing.T) {
	w := openTest(t, func(o *Options) {
		o.IDType, o.IDStart, o.Session = "", 0, ""
		o.Now = func() time.Time { return testTime.In(time.FixedZone("PST", -8*3600)) }
	})
	id, err := w.Write("t", "s-1.0", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	if !uuidRe.MatchString(id) {
		t.Fatalf("id %q is not a UUID", id)
	}
	if s := w.Session(); s == "" || s == "0" || strings.Trim(s, "0123456789") != "" {
		t.Fatalf("session %q is not a non-zero decimal", s)
	}
	line := fileLines(t, w.Path())[0]
	want := `{"id":"` + id + `","source":"alice@example.app","specversion":"1.0","type":"t","dataschema":"s-1.0","time":"2025-03-04T05:06:07.123456Z","session":"` + w.Session() + `","data":{"n":1}}`
	if line != want {
		t.Fatalf("line:\n got %s\nwant %s", line, want)
	}
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode   Mode
		source string
	}{
		{"", "alice"},
		{ModeProd, "alice"},
		{ModeDev, "alice (dev)"},
		{ModeTest, "alice (test)"},
	} {
		w := openTest(t, func(o *Options) { o.Source, o.Mode = "alice", tc.mode })
		if _, err := w.Write("t", "s-1", nil); err != nil {
			t.Fatal(err)
		}
		var ev struct{ Source string }
		if err := json.Unmarshal([]byte(fileLines(t, w.Path())[0]), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Source != tc.source {
			t.Errorf("mode %q: source %q, want %q", tc.mode, ev.Source, tc.source)
		}
		if got, want := SourceMode(ev.Source), tc.mode; got != want && !(want == "" && got == ModeProd) {
			t.Errorf("SourceMode(%q) = %q, want %q", ev.Source, got, want)
		}
	}

	for source, want := range map[string]Mode{
		"alice": ModeProd, "": ModeProd, "alice (dev)": ModeDev, "alice(dev)": ModeDev,
		"alice (test)": ModeTest, "alice(test)": ModeTest, "(dev) alice": ModeProd,
		"alice (DEV)": ModeProd, "alice (prod)": ModeProd,
	} {
		if got := SourceMode(source); got != want {
			t.Errorf("SourceMode(%q) = %q, want %q", source, got, want)
		}
	}
	for s, want := range map[string]Mode{"prod": ModeProd, "Production": ModeProd, " DEV ": ModeDev, "test": ModeTest} {
		if got, err := ParseMode(s); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v, want %q", s, got, err, want)
		}
	}
	for _, s := range []string{"", "staging", "matching"} {
		if _, err := ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) succeeded", s)
		}
	}
	if Mode("").String() != "prod" || ModeTest.String() != "test" {
		t.Error("Mode.String")
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	valid := Options{Dir: dir, Name: "x.log", Source: "alice"}
	tests := map[string]func(o *Options){
		"empty name":         func(o *Options) { o.Name = "" },
		"name with folder":   func(o *Options) { o.Name = "sub/x.log" },
		"dot name":           func(o *Options) { o.Name = ".." },
		"empty source":       func(o *Options) { o.Source = "" },
		"source with tag":    func(o *Options) { o.Source = "alice (dev)" },
		"bad mode":           func(o *Options) { o.Mode = "staging" },
		"negative size":      func(o *Options) { o.SizeLimit = -1 },
		"negative retention": func(o *Options) { o.RetentionCount = -1 },
		"bad id type":        func(o *Options) { o.IDType = "ulid" },
		"bad id mode":        func(o *Options) { o.IDMode = "ordered" },
		"session not number": func(o *Options) { o.Session = "abc" },
		"negative session":   func(o *Options) { o.Session = "-1" },
		"empty extra name":   func(o *Options) { o.Extra = map[string]string{"": "x"} },
		"data_base64 extra":  func(o *Options) { o.Extra = map[string]string{"data_base64": "x"} },
	}
	for _, name := range []string{"id", "_id", "session", "s_session", "time", "ts_created", "specversion",
		"type", "s_type", "source", "s_source", "dataschema", "s_dataschema", "data"} {
		if !IsReservedName(name) {
			t.Errorf("IsReservedName(%q) = false", name)
		}
		tests["reserved extra "+name] = func(o *Options) { o.Extra = map[string]string{"ok": "1", name: "x"} }
	}
	for name, edit := range tests {
		o := valid
		edit(&o)
		if w, err := Open(o); err == nil {
			_ = w.Close()
			t.Errorf("%s: Open succeeded", name)
		} else if name == "reserved extra data" && !strings.Contains(err.Error(), `"data"`) {
			t.Errorf("%s: error %q does not name the field", name, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("rejected options created files: %v", entries)
	}
	if IsReservedName("subject") || IsReservedName("app") {
		t.Error("IsReservedName accepts too much")
	}
}

func TestWriteRejectsBadEvents(t *testing.T) {
	w := openTest(t, nil)
	bad := []struct {
		name       string
		typ, ds    string
		data       any
		raw        json.RawMessage
		useRawData bool
	}{
		{name: "array data", typ: "t", ds: "s-1", data: []int{1}},
		{name: "string data", typ: "t", ds: "s-1", data: "x"},
		{name: "number data", typ: "t", ds: "s-1", data: 5},
		{name: "unencodable data", typ: "t", ds: "s-1", data: map[string]any{"f": func() {}}},
		{name: "empty type", typ: "", ds: "s-1", data: nil},
		{name: "empty dataschema", typ: "t", ds: "", data: nil},
		{name: "raw invalid", typ: "t", ds: "s-1", raw: json.RawMessage(`{"a":`), useRawData: true},
		{name: "raw array", typ: "t", ds: "s-1", raw: json.RawMessage(`[1]`), useRawData: true},
		{name: "raw two objects", typ: "t", ds: "s-1", raw: json.RawMessage(`{} {}`), useRawData: true},
	}
	for _, b := range bad {
		var err error
		if b.useRawData {
			_, err = w.WriteRaw(b.typ, b.ds, b.raw)
		} else {
			_, err = w.Write(b.typ, b.ds, b.data)
		}
		if err == nil {
			t.Errorf("%s: accepted", b.name)
		}
	}
	if lines := fileLines(t, w.Path()); len(lines) != 0 {
		t.Fatalf("rejected events were written: %q", lines)
	}
	// The id counter may have moved on, but the writer still works.
	if _, err := w.Write("t", "s-1", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write("t", "s-1", nil); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v, want os.ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestOpenExistingFile(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Name: "x.log", Source: "alice", Now: fixedNow, IDType: IDTypeUint64, IDStart: 1}
	// A header written by another implementation, with a seek tag and a
	// different length, is kept as it is.
	foreign := `{"source": "omni.structuredlog", "version": "1.0", "time": "t", "seek": 3}` + strings.Repeat(" ", 400) + "\n"
	path := filepath.Join(dir, "x.log")
	if err := os.WriteFile(path, []byte(foreign+`{"id":"0"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write("t", "s-1", nil); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), foreign+`{"id":"0"}`+"\n"+`{"id":"1",`) {
		t.Fatalf("file is %q", b)
	}

	if err := os.WriteFile(filepath.Join(dir, "text.log"), []byte("transmitter started\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Name = "text.log"
	if _, err := Open(o); !errors.Is(err, ErrNotStructuredLog) {
		t.Fatalf("Open of a text log: %v, want ErrNotStructuredLog", err)
	}

	// A missing folder is created.
	o.Dir, o.Name = filepath.Join(dir, "a", "b"), "new.log"
	w, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if b, err := os.ReadFile(filepath.Join(o.Dir, o.Name)); err != nil || len(b) != HeaderSize {
		t.Fatalf("new file: %d bytes, %v", len(b), err)
	}
}
