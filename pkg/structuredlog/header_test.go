package structuredlog

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testTime = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

const testHeaderJSON = `{"source":"omni.structuredlog","version":"1.0","time":"2025-03-04T05:06:07.123456+00:00"}`

func TestNewHeaderLayout(t *testing.T) {
	// A non-UTC time must still be written in UTC with a +00:00 offset.
	hdr := appendNewHeader(nil, testTime.In(time.FixedZone("X", -7*3600)))
	want := testHeaderJSON + strings.Repeat(" ", HeaderSize-1-len(testHeaderJSON)) + "\n"
	if string(hdr) != want {
		t.Fatalf("header:\n got %q\nwant %q", hdr, want)
	}
	if len(hdr) != 256 {
		t.Fatalf("header is %d bytes, want 256", len(hdr))
	}
	h, err := ParseHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if h.Source != "omni.structuredlog" || h.Version != "1.0" || h.Time != "2025-03-04T05:06:07.123456+00:00" || h.Len != 256 || len(h.Tags) != 0 {
		t.Fatalf("parsed %+v", h)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantErr error
		wantLen int
		tags    map[string]int64
	}{
		{name: "writer header", line: string(appendNewHeader(nil, testTime)), wantLen: 256},
		{name: "no newline", line: testHeaderJSON, wantLen: len(testHeaderJSON) + 1},
		{name: "only first line counts", line: testHeaderJSON + "  \n{\"id\":1}\n", wantLen: len(testHeaderJSON) + 3},
		{name: "spaced members, tabs and CR", line: `{ "source" : "omni.structuredlog", "version": "1.0" }` + "\t \r\n", wantLen: 57},
		{
			name:    "tags",
			line:    `{"source":"omni.structuredlog","version":"1.0","time":"t","seek":12,"other":0,"neg":-1,"float":1.5,"exp":1e3,"str":"5","big":99999999999999999999}`,
			tags:    map[string]int64{"seek": 12, "other": 0},
			wantLen: 147,
		},
		{name: "unknown version", line: `{"source":"omni.structuredlog","version":"2.0"}`, wantErr: ErrUnsupportedVersion},
		{name: "numeric version", line: `{"source":"omni.structuredlog","version":1.0}`, wantErr: ErrUnsupportedVersion},
		{name: "no version", line: `{"source":"omni.structuredlog"}`, wantErr: ErrUnsupportedVersion},
		{name: "missing source", line: `{"version":"1.0","time":"t"}`, wantErr: ErrNotStructuredLog},
		{name: "other source", line: `{"source":"omni.other","version":"1.0"}`, wantErr: ErrNotStructuredLog},
		{name: "source not a string", line: `{"source":1,"version":"1.0"}`, wantErr: ErrNotStructuredLog},
		{name: "time not a string", line: `{"source":"omni.structuredlog","version":"1.0","time":5}`, wantErr: ErrNotStructuredLog},
		{name: "not JSON", line: "2025-03-04 INFO starting transmitter\n", wantErr: ErrNotStructuredLog},
		{name: "not an object", line: `["omni.structuredlog","1.0"]`, wantErr: ErrNotStructuredLog},
		{name: "string", line: `"omni.structuredlog"`, wantErr: ErrNotStructuredLog},
		{name: "empty", line: "", wantErr: ErrNotStructuredLog},
		{name: "truncated object", line: `{"source":"omni.structuredlog","version":"1.0"`, wantErr: ErrNotStructuredLog},
		{name: "trailing data", line: testHeaderJSON + ` x`, wantErr: ErrNotStructuredLog},
		{name: "two objects", line: testHeaderJSON + testHeaderJSON, wantErr: ErrNotStructuredLog},
		{name: "duplicate member", line: `{"source":"omni.structuredlog","version":"1.0","seek":1,"seek":2}`, wantErr: ErrNotStructuredLog},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader([]byte(tt.line))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == ErrUnsupportedVersion && errors.Is(err, ErrNotStructuredLog) {
					t.Fatalf("unsupported version must be distinct from not a structured log: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Len != tt.wantLen {
				t.Errorf("Len = %d, want %d", h.Len, tt.wantLen)
			}
			if len(h.Tags) != len(tt.tags) {
				t.Errorf("Tags = %v, want %v", h.Tags, tt.tags)
			}
			for name, off := range tt.tags {
				if got, ok := h.Seek(name); !ok || got != off {
					t.Errorf("Seek(%q) = %d, %v, want %d", name, got, ok, off)
				}
			}
		})
	}
}

// newLogFile writes content to a fresh file and opens it as a reader that
// records progress would.
func newLogFile(t *testing.T, content string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteSeekTag(t *testing.T) {
	hdr := string(appendNewHeader(nil, testTime))
	events := `{"id":"1","data":null}` + "\n" + `{"id":"2","data":{}}` + "\n" + `{"id":"3"` // torn last line
	f := newLogFile(t, hdr+events)

	steps := []struct {
		name string
		off  int64
		want string // header JSON after the step
	}{
		{"seek", 1234, `,"seek":1234}`},
		{"seek", 98765432101, `,"seek":98765432101}`}, // bigger
		{"seek", 7, `,"seek":7}`},                     // smaller: the line is re-padded
		{"seek.b", 300, `,"seek":7,"seek.b":300}`},    // a second tag keeps the first
		{"seek", 256, `,"seek":256,"seek.b":300}`},    // updating the first keeps its place
	}
	for _, s := range steps {
		if err := WriteSeekTag(f, s.name, s.off); err != nil {
			t.Fatalf("WriteSeekTag(%q, %d): %v", s.name, s.off, err)
		}
		content := readAll(t, f)
		wantJSON := strings.TrimSuffix(testHeaderJSON, "}") + s.want
		wantHdr := wantJSON + strings.Repeat(" ", 255-len(wantJSON)) + "\n"
		if content[:256] != wantHdr {
			t.Fatalf("after %s=%d header is\n%q\nwant\n%q", s.name, s.off, content[:256], wantHdr)
		}
		if content[256:] != events {
			t.Fatalf("after %s=%d the events changed: %q", s.name, s.off, content[256:])
		}
		h, err := ReadHeader(f)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := h.Seek(s.name); !ok || got != s.off {
			t.Fatalf("Seek(%q) = %d, %v, want %d", s.name, got, ok, s.off)
		}
	}
}

func TestWriteSeekTagFull(t *testing.T) {
	hdr := string(appendNewHeader(nil, testTime))
	const tail = "{\"id\":\"1\"}\n"
	f := newLogFile(t, hdr+tail)
	// Each tag `,"tagN":1` costs 9 bytes; fill the padding until it refuses.
	var n int
	for ; ; n++ {
		err := WriteSeekTag(f, fmt.Sprintf("tag%d", n), 1)
		if errors.Is(err, ErrHeaderFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	before := readAll(t, f)
	free := 255 - len(strings.TrimRight(before[:255], " "))
	if n == 0 || free >= len(`,"tagN":1`) {
		t.Fatalf("%d tags fit and %d bytes are free", n, free)
	}
	// Growing an existing tag past the padding fails and changes nothing.
	if err := WriteSeekTag(f, "tag0", 1<<62); !errors.Is(err, ErrHeaderFull) {
		t.Fatalf("err = %v, want ErrHeaderFull", err)
	}
	if after := readAll(t, f); after != before {
		t.Fatalf("file changed:\n%q\nwas\n%q", after, before)
	}
	// Growing it by exactly the free bytes still fits, filling the line.
	if err := WriteSeekTag(f, "tag0", 1+int64(math.Pow10(free))); err != nil {
		t.Fatal(err)
	}
	after := readAll(t, f)
	if after[254] != '}' || after[255] != '\n' || after[256:] != tail {
		t.Fatalf("file is %q", after)
	}
	h, err := ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Tags) != n || h.Len != 256 {
		t.Fatalf("header has %d tags, len %d; want %d, 256", len(h.Tags), h.Len, n)
	}
}

func TestWriteSeekTagErrors(t *testing.T) {
	hdr := string(appendNewHeader(nil, testTime))
	f := newLogFile(t, hdr)
	for _, tc := range []struct {
		name string
		off  int64
	}{{"", 1}, {"seek", -1}, {"source", 1}, {"time", 1}} {
		if err := WriteSeekTag(f, tc.name, tc.off); err == nil {
			t.Errorf("WriteSeekTag(%q, %d) succeeded", tc.name, tc.off)
		}
	}
	if got := readAll(t, f); got != hdr {
		t.Fatalf("file changed: %q", got)
	}

	notLog := newLogFile(t, "plain text log\n")
	if err := WriteSeekTag(notLog, "seek", 1); !errors.Is(err, ErrNotStructuredLog) {
		t.Fatalf("err = %v, want ErrNotStructuredLog", err)
	}

	appendOnly, err := os.OpenFile(f.Name(), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = appendOnly.Close() }()
	if err := WriteSeekTag(appendOnly, "seek", 1); err == nil {
		t.Fatal("WriteSeekTag on an O_APPEND file succeeded; it would have appended")
	}
}

func TestReadHeader(t *testing.T) {
	hdr := string(appendNewHeader(nil, testTime))
	tests := []struct {
		name       string
		content    string
		wantErr    error
		incomplete bool
	}{
		{name: "header only", content: hdr},
		{name: "header and events", content: hdr + "{}\n{}\n"},
		{name: "long header", content: `{"source":"omni.structuredlog","version":"1.0"}` + strings.Repeat(" ", 5000) + "\n{}\n"},
		{name: "empty file", content: "", wantErr: ErrNotStructuredLog, incomplete: true},
		{name: "partial header", content: hdr[:100], wantErr: ErrNotStructuredLog, incomplete: true},
		{name: "text log", content: "starting\n", wantErr: ErrNotStructuredLog},
		{name: "text log without newline", content: "starting", wantErr: ErrNotStructuredLog},
		{name: "first line too long", content: "{" + strings.Repeat(" ", MaxHeaderSize) + "}\n", wantErr: ErrNotStructuredLog},
		{name: "version 2", content: `{"source":"omni.structuredlog","version":"2.0"}` + "\n", wantErr: ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLogFile(t, tt.content)
			h, err := ReadHeader(f)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if want := strings.IndexByte(tt.content, '\n') + 1; h.Len != want {
					t.Fatalf("Len = %d, want %d", h.Len, want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrIncompleteHeader); got != tt.incomplete {
				t.Fatalf("errors.Is(%v, ErrIncompleteHeader) = %v", err, got)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	hdr := appendNewHeader(nil, testTime)
	f.Add(hdr, "seek", int64(1234), testTime.UnixMicro())
	f.Add([]byte(testHeaderJSON), "seek.2", int64(0), int64(0))
	f.Add([]byte(strings.TrimSuffix(testHeaderJSON, "}")+`,"seek":5,"x":[1,{"a":null}]}  `+"\n{}\n"), "seek", int64(1)<<62, int64(-1))
	f.Add([]byte(`{"source":"omni.structuredlog","version":"2.0"}`), "s", int64(7), int64(253402300799999999))
	f.Add([]byte(`{"source":"omni.structuredlog","version":"1.0","seek":1,"seek":2}`), "seek", int64(2), int64(1))
	f.Add([]byte(`["omni.structuredlog"]`), "", int64(-1), int64(1)<<62)
	f.Add([]byte("plain text\n"), "\u2028\"\\", int64(5), int64(-1)<<62)
	f.Add([]byte{}, "x", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, line []byte, name string, off int64, micros int64) {
		h, err := ParseHeader(line)
		if err == nil {
			if h.Source != headerSource || h.Version != headerVersion || h.Len < 1 || h.Len > len(line)+1 {
				t.Fatalf("bad header %+v from %q", h, line)
			}
			if upd, err := h.withTag(name, off); err == nil {
				checkTagged(t, h, upd, name, off)
			} else if off >= 0 && name != "" && !errors.Is(err, ErrHeaderFull) {
				if _, isTag := h.Tags[name]; isTag {
					t.Fatalf("updating tag %q: %v", name, err)
				}
			}
		}
		// Whatever the time, the writer's header is 256 bytes and parses.
		hdr := appendNewHeader(nil, time.UnixMicro(micros))
		if len(hdr) != HeaderSize {
			t.Fatalf("header for %d is %d bytes", micros, len(hdr))
		}
		got, err := ParseHeader(hdr)
		if err != nil {
			t.Fatalf("writer header %q does not parse: %v", hdr, err)
		}
		if got.Len != HeaderSize || !bytes.Contains(hdr, []byte(got.Time)) {
			t.Fatalf("parsed %+v from %q", got, hdr)
		}
	})
}

// checkTagged checks a header line produced by withTag.
func checkTagged(t *testing.T, h Header, upd []byte, name string, off int64) {
	t.Helper()
	if len(upd) != h.Len || upd[len(upd)-1] != '\n' || bytes.IndexByte(upd, '\n') != len(upd)-1 {
		t.Fatalf("updated header %q is not one line of %d bytes", upd, h.Len)
	}
	h2, err := ParseHeader(upd)
	if err != nil {
		t.Fatalf("updated header %q does not parse: %v", upd, err)
	}
	if h2.Time != h.Time || h2.Len != h.Len || len(h2.members) < len(h.members) {
		t.Fatalf("updated header %+v, was %+v", h2, h)
	}
	for i, m := range h.members {
		if h2.members[i].name != m.name {
			t.Fatalf("member %d is %q, was %q", i, h2.members[i].name, m.name)
		}
	}
	for k, v := range h.Tags {
		if k != name && h2.Tags[k] != v {
			t.Fatalf("tag %q changed from %d to %d", k, v, h2.Tags[k])
		}
	}
	if utf8.ValidString(name) {
		if got, ok := h2.Seek(name); !ok || got != off {
			t.Fatalf("Seek(%q) = %d, %v, want %d", name, got, ok, off)
		}
	}
}
