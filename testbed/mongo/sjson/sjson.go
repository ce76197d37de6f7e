// Package sjson decodes the documents FerretDB v1 stores in PostgreSQL
// (its "sjson": JSON values beside a "$s" schema giving each value's BSON
// type and the key order, which jsonb does not keep) back into BSON. The
// format is FerretDB's internal/handler/sjson, which cannot be imported;
// this decoder is tested against documents FerretDB itself wrote.
package sjson

import (
	"bytes"
	"encoding/base64"
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
	top, err := objectMembers(data, make([]member, 0, 16))
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
	return appendDoc(make([]byte, 0, len(data)), s, top)
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

func appendDoc(dst []byte, s *schema, vals []member) ([]byte, error) {
	idx, dst := bsoncore.ReserveLength(dst)
	for _, k := range s.Keys {
		e := s.Properties[k]
		v, ok := find(vals, k)
		if e == nil || !ok {
			return nil, fmt.Errorf("sjson: key %q: no schema or no value", k)
		}
		var err error
		if dst, err = appendValue(dst, k, e, v); err != nil {
			return nil, err
		}
	}
	dst = append(dst, 0)
	return bsoncore.UpdateLength(dst, idx, int32(len(dst)-int(idx))), nil
}

func appendValue(dst []byte, key string, e *elem, v []byte) ([]byte, error) {
	bad := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("sjson: key %q (%s): %v", key, e.Type, err)
	}
	switch e.Type {
	case "object":
		m, err := objectMembers(v, nil)
		if err != nil {
			return bad(err)
		}
		s := e.Schema
		if s == nil {
			s = &schema{}
		}
		dst = bsoncore.AppendHeader(dst, bsoncore.TypeEmbeddedDocument, key)
		return appendDoc(dst, s, m)
	case "array":
		a, err := arrayItems(v, nil)
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
			if out, err = appendValue(out, strconv.Itoa(i), e.Items[i], item); err != nil {
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
		s, err := unquote(v)
		if err != nil {
			return bad(err)
		}
		return bsoncore.AppendStringElement(dst, key, s), nil
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
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return bad(err)
		}
		return bsoncore.AppendBooleanElement(dst, key, b), nil
	case "date":
		ms, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
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
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 32)
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
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return bad(err)
		}
		return bsoncore.AppendInt64Element(dst, key, n), nil
	}
	return bad(fmt.Errorf("unknown type"))
}
