package deadletterreceiver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/receiver/deadletterreceiver/internal/metadata"
)

// record is the part of a dead-letter line (internal/deadletter.Record)
// the replay needs.
type record struct {
	Reason    string          `json:"reason"`
	Event     json.RawMessage `json:"event"`
	LogRecord json.RawMessage `json:"log_record"`
}

// batch collects the events of consecutive lines of one file for one
// ConsumeLogs call; end is the file offset after its last line.
type batch struct {
	logs    plog.Logs
	records plog.LogRecordSlice
	events  int
	end     int64
	dec     cloudevent.Decoder
	now     pcommon.Timestamp
}

func newBatch() *batch {
	b := &batch{logs: plog.NewLogs(), now: pcommon.NewTimestampFromTime(time.Now())}
	sl := b.logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	b.records = sl.LogRecords()
	return b
}

type lineError struct {
	reason string
	err    error
}

// add decodes one line into the batch: the event exactly as it was
// dead-lettered (the structured CloudEvent through pkg/cloudevent, or the
// OTLP JSON log record with its resource and scope). It returns the
// record's reason when wants refused it (the line is skipped), or why the
// line is not an event.
func (b *batch) add(line []byte, wants func(string) bool) (skipped string, _ *lineError) {
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return "", &lineError{ReasonNotRecord, err}
	}
	if !wants(rec.Reason) {
		return rec.Reason, nil
	}
	switch {
	case len(rec.Event) > 0 && !bytes.Equal(rec.Event, []byte("null")):
		lr := plog.NewLogRecord()
		if err := b.dec.Decode(rec.Event, lr); err != nil {
			return "", &lineError{string(cloudevent.ReasonOf(err)), err}
		}
		lr.SetObservedTimestamp(b.now)
		lr.MoveTo(b.records.AppendEmpty())
		b.events++
	case len(rec.LogRecord) > 0 && !bytes.Equal(rec.LogRecord, []byte("null")):
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(rec.LogRecord)
		if err != nil {
			return "", &lineError{ReasonNotRecord, err}
		}
		b.events += ld.LogRecordCount()
		ld.ResourceLogs().MoveAndAppendTo(b.logs.ResourceLogs())
	default:
		return "", &lineError{ReasonNoEvent, errors.New("a record with neither event nor log_record")}
	}
	return "", nil
}

// fileReader reads the complete lines of a file from an offset, each at
// most max bytes long (a longer one is passed over and reported).
type fileReader struct {
	br  *bufio.Reader
	max int
	pos int64 // offset after the last complete line returned
	// partial: the file ended with partialLen bytes without a newline.
	partial    bool
	partialLen int
	buf        []byte
}

type line struct {
	data    []byte
	tooLong bool
}

func newFileReader(f *os.File, start int64, max int) (*fileReader, error) {
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	return &fileReader{br: bufio.NewReaderSize(f, 64<<10), max: max, pos: start}, nil
}

// next returns the next complete line (without its newline) and the offset
// after it; io.EOF when there is none.
func (r *fileReader) next() (line, int64, error) {
	r.buf = r.buf[:0]
	n, tooLong := 0, false
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += len(chunk)
		if !tooLong {
			if len(r.buf)+len(chunk) > r.max+1 { // +1: the newline
				tooLong, r.buf = true, r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			r.pos += int64(n)
			if tooLong {
				return line{tooLong: true}, r.pos, nil
			}
			return line{data: r.buf[:len(r.buf)-1]}, r.pos, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if n > 0 {
				r.partial, r.partialLen = true, n
			}
			return line{}, r.pos, io.EOF
		}
	}
}
