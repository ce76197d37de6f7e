package cloudevent

import (
	"errors"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Framing is how encoded events are joined into one HTTP body.
type Framing struct {
	Open, Sep, Term, Close string
}

var (
	// FramingArray makes a JSON array: batch mode and Omniverse defaultWithList.
	FramingArray = Framing{Open: "[", Sep: ",", Close: "]"}
	// FramingLines makes JSON lines: every event ends with a newline.
	FramingLines = Framing{Term: "\n"}
)

// ErrBatchFull is returned by Batch.Add when the event does not fit beside
// the events already in the body: send the body, Reset, and add it again.
var ErrBatchFull = errors.New("batch body is full")

// Batch packs encoded events into one body of at most Limit bytes.
type Batch struct {
	Format  Format
	Framing Framing
	Limit   int // bytes per body, framing included; 0 means no limit

	body  []byte
	count int
}

// Add encodes lr into the body. It returns ErrBatchFull when the body holds
// events and lr does not fit beside them, an *Error with ReasonTooLarge when
// lr could never fit in a body, and the encoding error when lr cannot be
// encoded. On any error the body is unchanged.
func (b *Batch) Add(lr plog.LogRecord) error {
	if len(b.body) == 0 {
		b.body = append(b.body, b.Framing.Open...)
	}
	mark := len(b.body)
	if b.count > 0 {
		b.body = append(b.body, b.Framing.Sep...)
	}
	itemStart := len(b.body)
	out, err := b.Format.AppendEvent(b.body, lr)
	if err != nil {
		b.body = b.body[:mark]
		return err
	}
	out = append(out, b.Framing.Term...)
	b.body = out
	if b.Limit > 0 && len(b.body)+len(b.Framing.Close) > b.Limit {
		size := len(b.body) - itemStart
		b.body = b.body[:mark]
		if b.count > 0 && len(b.Framing.Open)+size+len(b.Framing.Close) <= b.Limit {
			return ErrBatchFull
		}
		return errorf(ReasonTooLarge, nil, "event of %d bytes does not fit in a body of at most %d bytes", size, b.Limit)
	}
	b.count++
	return nil
}

// Count is the number of events in the body.
func (b *Batch) Count() int { return b.count }

// Body returns the framed body. It stays valid until the next Add or Reset.
func (b *Batch) Body() []byte {
	if len(b.body) == 0 {
		b.body = append(b.body, b.Framing.Open...)
	}
	return append(b.body, b.Framing.Close...)
}

// Reset empties the body, keeping its memory.
func (b *Batch) Reset() {
	b.body = b.body[:0]
	b.count = 0
}
