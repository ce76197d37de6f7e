// Package sjson decodes the documents FerretDB v1 stores in PostgreSQL
// (its "sjson": JSON values beside a "$s" schema giving each value's BSON
// type and the key order, which jsonb does not keep) back into BSON. The
// format is FerretDB's internal/handler/sjson, which cannot be imported;
// this decoder is tested against documents FerretDB itself wrote.
package sjson

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type schema struct {
	Properties map[string]*elem `json:"p"`
	Keys       []string         `json:"$k"`
}

type elem struct {
	Type    string  `json:"t"`
	Schema  *schema `json:"$s"`
	Options *string `json:"o"`
	Items   []*elem `json:"i"`
	Subtype *byte   `json:"s"`
}

// ToBSON converts one stored document (the _jsonb column's text) to BSON.
func ToBSON(data []byte) (bsoncore.Document, error) {
	return AppendBSON(make([]byte, 0, len(data)), data)
}

// AppendBSON appends the BSON of one stored document to dst: a reply of
// many documents is written into one buffer, without a copy of each.
func AppendBSON(dst, data []byte) ([]byte, error) {
	d := decoders.Get().(*decoder)
	defer func() {
		d.members, d.items = d.members[:0], d.items[:0]
		decoders.Put(d)
	}()
	top, err := d.object(data)
	if err != nil {
		return nil, fmt.Errorf("sjson: %w", err)
	}
	raw, ok := find(top, "$s")
	if !ok {
		return nil, fmt.Errorf("sjson: no schema ($s)")
	}
	s, err := schemas.get(raw)
	if err != nil {
		return nil, err
	}
	return d.appendDoc(dst, s, top)
}

// decoder keeps the members and items of one document's objects and
// arrays in two slices reused from document to document, instead of
// slices allocated for each object.
type decoder struct {
	members []member
	items   [][]byte
}

var decoders = sync.Pool{New: func() any { return &decoder{} }}

// object splits b into members appended to d.members; the result stays
// valid while the document is decoded (later appends may move d.members,
// never the members already returned).
func (d *decoder) object(b []byte) ([]member, error) {
	start := len(d.members)
	var err error
	if d.members, err = objectMembers(b, d.members); err != nil {
		return nil, err
	}
	return d.members[start:len(d.members):len(d.members)], nil
}

func (d *decoder) array(b []byte) ([][]byte, error) {
	start := len(d.items)
	var err error
	if d.items, err = arrayItems(b, d.items); err != nil {
		return nil, err
	}
	return d.items[start:len(d.items):len(d.items)], nil
}

// schemaCache keeps parsed schemas: documents of one collection mostly
// share a few, and parsing one costs more than decoding the values.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]*schema
}

const maxSchemas = 1_000

var schemas = &schemaCache{m: map[string]*schema{}}

func (c *schemaCache) get(raw []byte) (*schema, error) {
	c.mu.Lock()
	s, ok := c.m[string(raw)]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s = &schema{}
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, fmt.Errorf("sjson: schema: %w", err)
	}
	c.mu.Lock()
	if len(c.m) >= maxSchemas {
		clear(c.m)
	}
	c.m[string(raw)] = s
	c.mu.Unlock()
	return s, nil
}

func (d *decoder) appendDoc(dst []byte, s *schema, vals []member) ([]byte, error) {
	idx, dst := bsoncore.ReserveLength(dst)
	for _, k := range s.Keys {
		e := s.Properties[k]
		v, ok := find(vals, k)
		if e == nil || !ok {
			return nil, fmt.Errorf("sjson: key %q: no schema or no value", k)
		}
		var err error
		if dst, err = d.appendValue(dst, k, e, v); err != nil {
			return nil, err
		}
	}
	dst = append(dst, 0)
	return bsoncore.UpdateLength(dst, idx, int32(len(dst)-int(idx))), nil
}

func (d *decoder) appendValue(dst []byte, key string, e *elem, v []byte) ([]byte, error) {
	bad := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("sjson: key %q (%s): %v", key, e.Type, err)
	}
	switch e.Type {
	case "object":
		m, err := d.object(v)
		if err != nil {
			return bad(err)
		}
		s := e.Schema
		if s == nil {
			s = &schema{}
		}
		dst = bsoncore.AppendHeader(dst, bsoncore.TypeEmbeddedDocument, key)
		return d.appendDoc(dst, s, m)
	case "array":
		a, err := d.array(v)
		if err != nil {
			return bad(err)
		}
		if len(a) != len(e.Items) {
			return bad(fmt.Errorf("%d values for %d item schemas", len(a), len(e.Items)))
		}
		dst = bsoncore.AppendHeader(dst, bsoncore.TypeArray, key)
		idx, out := bsoncore.ReserveLength(dst)
		for i, item := range a {
			var err error
			if out, err = d.appendValue(out, strconv.Itoa(i), e.Items[i], item); err != nil {
				return nil, err
			}
		}
		out = append(out, 0)
		return bsoncore.UpdateLength(out, idx, int32(len(out)-int(idx))), nil
	case "double":
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
		if err != nil {
			return bad(err)
		}
		return bsoncore.AppendDoubleElement(dst, key, f), nil
	case "string":
		s, err := unquoteBytes(v)
		if err != nil {
			return bad(err)
		}
		// bsoncore.AppendStringElement, from the bytes without a string.
		dst = bsoncore.AppendHeader(dst, bsoncore.TypeString, key)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)+1))
		return append(append(dst, s...), 0), nil
	case "binData":
		s, err := unquote(v)
		if err != nil {
			return bad(err)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return bad(err)
		}
		var sub byte
		if e.Subtype != nil {
			sub = *e.Subtype
		}
		return bsoncore.AppendBinaryElement(dst, key, sub, b), nil
	case "objectId":
		s, err := unquote(v)
		if err != nil {
			return bad(err)
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 12 {
			return bad(fmt.Errorf("object id %q", s))
		}
		return bsoncore.AppendObjectIDElement(dst, key, bson.ObjectID(b)), nil
	case "bool":
		switch string(bytes.TrimSpace(v)) {
		case "true":
			return bsoncore.AppendBooleanElement(dst, key, true), nil
		case "false":
			return bsoncore.AppendBooleanElement(dst, key, false), nil
		}
		return bad(fmt.Errorf("not a boolean: %.20s", v))
	case "date":
		ms, err := parseInt(v, 64)
		if err != nil {
			return bad(err)
		}
		return bsoncore.AppendDateTimeElement(dst, key, ms), nil
	case "null":
		return bsoncore.AppendNullElement(dst, key), nil
	case "regex":
		s, err := unquote(v)
		if err != nil {
			return bad(err)
		}
		opts := ""
		if e.Options != nil {
			opts = *e.Options
		}
		return bsoncore.AppendRegexElement(dst, key, s, opts), nil
	case "int":
		n, err := parseInt(v, 32)
		if err != nil {
			return bad(err)
		}
		return bsoncore.AppendInt32Element(dst, key, int32(n)), nil
	case "timestamp":
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return bad(err)
		}
		return bsoncore.AppendTimestampElement(dst, key, uint32(n>>32), uint32(n)), nil
	case "long":
		n, err := parseInt(v, 64)
		if err != nil {
			return bad(err)
		}
		return bsoncore.AppendInt64Element(dst, key, n), nil
	}
	return bad(fmt.Errorf("unknown type"))
}

// parseInt is strconv.ParseInt of a JSON integer, without making a string
// of it when it is plain digits (nearly always).
func parseInt(v []byte, bits int) (int64, error) {
	v = bytes.TrimSpace(v)
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return strconv.ParseInt(string(v), 10, bits) // its error, or a value near the limits
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return strconv.ParseInt(string(v), 10, bits)
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) != len(v) {
		n = -n
	}
	if bits == 32 && (n < -1<<31 || n > 1<<31-1) {
		return strconv.ParseInt(string(v), 10, bits)
	}
	return n, nil
}
