package oldeventsprocessor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// Anonymous is the source of an anonymized event (plus its mode tag).
const Anonymous = "anonymous"

// attrSession is the Omniverse session extension attribute.
var attrSession = cloudevent.AttributeKey("session")

// modeTag is the tag a source of mode m ends with, as the writer appends it.
func modeTag(m structuredlog.Mode) string {
	switch m {
	case structuredlog.ModeDev:
		return " (dev)"
	case structuredlog.ModeTest:
		return " (test)"
	}
	return ""
}

// splitMode splits a source into the user part and its mode tag, so that
// the tag survives anonymization and pseudonymization (messageMatchMode
// selects events by it).
func splitMode(source string) (string, structuredlog.Mode) {
	m := structuredlog.SourceMode(source)
	if m == structuredlog.ModeProd {
		return source, m
	}
	base := strings.TrimSuffix(source, "("+string(m)+")")
	return strings.TrimSuffix(base, " "), m
}

// transformer rewrites the identifying members of an event.
type transformer struct {
	fields []string // attribute keys of identifying_fields
	macs   sync.Pool
	hasKey bool
}

func newTransformer(identifying []string, key []byte) *transformer {
	t := &transformer{hasKey: len(key) > 0}
	for _, f := range identifying {
		t.fields = append(t.fields, cloudevent.AttributeKey(f))
	}
	if t.hasKey {
		k := append([]byte(nil), key...)
		t.macs.New = func() any { return hmac.New(sha256.New, k) }
	}
	return t
}

// anonymize replaces the source with "anonymous" (keeping its mode tag) and
// the session with "0" (an integer session stays an integer), and removes
// the identifying fields.
func (t *transformer) anonymize(lr plog.LogRecord) {
	attrs := lr.Attributes()
	if v, ok := attrs.Get(cloudevent.AttrSource); ok {
		_, mode := splitMode(v.AsString())
		v.SetStr(Anonymous + modeTag(mode))
	}
	if v, ok := attrs.Get(attrSession); ok {
		if v.Type() == pcommon.ValueTypeInt {
			v.SetInt(0)
		} else {
			v.SetStr("0")
		}
	}
	for _, k := range t.fields {
		attrs.Remove(k)
	}
}

// pseudonymize replaces the source (keeping its mode tag), the session and
// the identifying fields with the hex HMAC-SHA256 of their text under the
// key: the same user, session or value always gives the same pseudonym, so
// records still link, but cannot be reversed without the key.
func (t *transformer) pseudonymize(lr plog.LogRecord) {
	attrs := lr.Attributes()
	if v, ok := attrs.Get(cloudevent.AttrSource); ok {
		base, mode := splitMode(v.AsString())
		v.SetStr(t.mac(base) + modeTag(mode))
	}
	if v, ok := attrs.Get(attrSession); ok {
		v.SetStr(t.mac(v.AsString()))
	}
	for _, k := range t.fields {
		if v, ok := attrs.Get(k); ok {
			v.SetStr(t.mac(v.AsString()))
		}
	}
}

// mac is the hex HMAC-SHA256 of s.
func (t *transformer) mac(s string) string {
	h := t.macs.Get().(hash.Hash)
	defer t.macs.Put(h)
	h.Reset()
	_, _ = h.Write([]byte(s))
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], h.Sum(sum[:0]))
	return string(out[:])
}
