package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

// The event every structured log generator writes: no schema registry
// knows it, so pipelines that validate schemas would reject it.
const (
	EventType  = "com.example.load.event"
	DataSchema = "example.load-1.0"
)

// LogsConfig says what WriteLogs writes.
type LogsConfig struct {
	// Dir is the log folder.
	Dir string
	// Name is the file name; default "load.log". With Files > 1 the files
	// are Name with -0, -1 … before the extension.
	Name string
	// Files spreads the events over this many files, round robin;
	// default 1.
	Files int
	// Source is every event's source; default "load@courier".
	Source string
	// Count is how many events to write; 0: until the context ends.
	Count int
	// Rate is lines (events and bad lines) per second over all files; 0:
	// as fast as possible.
	Rate float64
	// EventSize is the length of an event line in bytes, about; default
	// 700 (an Omniverse event). The data is padded to reach it.
	EventSize int
	// SizeLimit and RetentionCount are the writer's rotation settings;
	// 0: structuredlog's defaults (50 MiB, 3 files).
	SizeLimit      int64
	RetentionCount int
	// BadShare (0..1) of the lines written are not events (garbage, torn
	// JSON, an array); they are counted with Recorder.Bad.
	BadShare float64
	// Seed seeds the choice of bad lines.
	Seed uint64
}

// envelopeSize is about what an event line costs besides its data: the
// envelope members with a UUID id, a microsecond time and a 20-digit
// session.
const envelopeSize = 200

// badLines are the lines of LogsConfig.BadShare: each one a reason for the
// structured_log receiver to skip a line.
var badLines = []string{
	"not json at all",
	`{"specversion":"1.0","id":"torn`,
	`["an","array","is","not","an","event"]`,
	"\x00\x01\x02 binary \xff\xfe",
}

// WriteLogs writes events to structured log files until cfg.Count events
// are written or ctx ends, and tells rec of each. It returns an error only
// when writing fails.
func WriteLogs(ctx context.Context, cfg LogsConfig, rec Recorder) error {
	if cfg.Name == "" {
		cfg.Name = "load.log"
	}
	if cfg.Files <= 0 {
		cfg.Files = 1
	}
	if cfg.Source == "" {
		cfg.Source = "load@courier"
	}
	if cfg.EventSize <= 0 {
		cfg.EventSize = 700
	}
	writers := make([]*structuredlog.Writer, cfg.Files)
	defer func() {
		for _, w := range writers {
			if w != nil {
				_ = w.Close()
			}
		}
	}()
	for i := range writers {
		w, err := structuredlog.Open(structuredlog.Options{
			Dir: cfg.Dir, Name: fileName(cfg.Name, i, cfg.Files), Source: cfg.Source,
			SizeLimit: cfg.SizeLimit, RetentionCount: cfg.RetentionCount,
		})
		if err != nil {
			return err
		}
		writers[i] = w
	}
	// The data is {"seq":N,"writer":"<session>","pad":"xxx…"}; the session
	// tells the events of different writer processes apart to a reader.
	pad := strings.Repeat("x", max(0, cfg.EventSize-envelopeSize-len(cfg.Source)-len(EventType)-len(DataSchema)-60))
	rnd := rand.New(rand.NewPCG(cfg.Seed, 0x10ad))
	p := newPacer(cfg.Rate)
	var data []byte
	for i, lines := 0, 0; cfg.Count == 0 || i < cfg.Count; lines++ {
		if err := p.wait(ctx, lines); err != nil {
			return nil // the context ended: done
		}
		w := writers[lines%len(writers)]
		if cfg.BadShare > 0 && rnd.Float64() < cfg.BadShare {
			ok, err := appendBad(w.Path(), badLines[rnd.IntN(len(badLines))])
			if err != nil {
				return err
			}
			if ok {
				rec.Bad(1)
				continue
			}
		}
		data = append(data[:0], `{"seq":`...)
		data = strconv.AppendInt(data, int64(i), 10)
		data = append(data, `,"writer":"`...)
		data = append(data, w.Session()...)
		data = append(data, `","pad":"`...)
		data = append(data, pad...)
		data = append(data, `"}`...)
		id, err := w.WriteRaw(EventType, DataSchema, data)
		if err != nil {
			return err
		}
		rec.Written(id, time.Now())
		i++
	}
	return nil
}

// fileName is the name of file i of n.
func fileName(name string, i, n int) string {
	if n == 1 {
		return name
	}
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + "-" + strconv.Itoa(i) + ext
}

// appendBad appends line to the structured log at path the way writers
// append events: one write under the file's write lock, to the file that
// is at path now and holds a header. It reports false, having written
// nothing, when the file has no header yet (just rotated: its first writer
// writes the header) or is replaced meanwhile.
func appendBad(path, line string) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }() // closing drops the lock too
	for {
		err := structuredlog.TryLockExclusive(f)
		if err == nil {
			break
		}
		if !errors.Is(err, structuredlog.ErrLocked) {
			return false, fmt.Errorf("lock %s: %w", path, err)
		}
		time.Sleep(50 * time.Microsecond) // a writer appends one line
	}
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Stat(path)
	if err != nil || !os.SameFile(held, now) || held.Size() < structuredlog.HeaderSize {
		return false, nil
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		return false, fmt.Errorf("append a bad line to %s: %w", path, err)
	}
	return true, structuredlog.Unlock(f)
}
