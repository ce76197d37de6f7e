package structuredlog_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "structuredlog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	w, err := structuredlog.Open(structuredlog.Options{
		Dir:    dir,
		Name:   "omni.example.app.log",
		Source: "alice@example.app",
		Mode:   structuredlog.ModeDev,
		// Fixed ids, session and clock only to make the output reproducible;
		// leave them unset in real use.
		IDType:  structuredlog.IDTypeUint64,
		IDStart: 1,
		Session: "7",
		Now:     func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	type featureUsed struct {
		FeatureName string `json:"featureName"`
		DurationMs  int    `json:"durationMs"`
	}
	if _, err := w.Write("com.example.app.featureUsed", "example.app-1.0", featureUsed{"open", 12}); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(dir, "omni.example.app.log"))
	if err != nil {
		log.Fatal(err)
	}
	h, err := structuredlog.ParseHeader(b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Source, h.Version, h.Time, h.Len)
	fmt.Print(string(b[h.Len:]))
	// Output:
	// omni.structuredlog 1.0 2025-03-04T05:06:07.123456+00:00 256
	// {"id":"1","source":"alice@example.app (dev)","specversion":"1.0","type":"com.example.app.featureUsed","dataschema":"example.app-1.0","time":"2025-03-04T05:06:07.123456Z","session":"7","data":{"featureName":"open","durationMs":12}}
}

func ExampleWriteSeekTag() {
	dir, err := os.MkdirTemp("", "structuredlog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	w, err := structuredlog.Open(structuredlog.Options{Dir: dir, Name: "x.log", Source: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	_ = w.Close()

	// A reader records how far it got; the file must not be in append mode.
	f, err := os.OpenFile(w.Path(), os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := structuredlog.WriteSeekTag(f, "seek", 256); err != nil {
		log.Fatal(err)
	}
	h, err := structuredlog.ReadHeader(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Seek("seek"))
	// Output: 256 true
}
