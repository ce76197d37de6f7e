package changestream

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// A matcher is a compiled $match query: the query operators NVSentinel's
// store-client and Courier's receiver write ($eq, $ne, $in, $nin, $exists,
// $gt, $gte, $lt, $lte, $and, $or, $nor, $not on field conditions), on
// dotted paths, with MongoDB's array and null semantics.
type matcher func(doc bsoncore.Document) bool

func compileQuery(q bsoncore.Document) (matcher, error) {
	elems, err := q.Elements()
	if err != nil {
		return nil, err
	}
	var parts []matcher
	for _, e := range elems {
		key, v := e.Key(), e.Value()
		var m matcher
		switch key {
		case "$and", "$or", "$nor":
			arr, ok := v.ArrayOK()
			if !ok {
				return nil, fmt.Errorf("%s must be an array", key)
			}
			vals, _ := arr.Values()
			if len(vals) == 0 {
				return nil, fmt.Errorf("%s must be a nonempty array", key)
			}
			var subs []matcher
			for _, sv := range vals {
				d, ok := sv.DocumentOK()
				if !ok {
					return nil, fmt.Errorf("%s entries must be objects", key)
				}
				sm, err := compileQuery(d)
				if err != nil {
					return nil, err
				}
				subs = append(subs, sm)
			}
			m = logical(key, subs)
		default:
			if strings.HasPrefix(key, "$") {
				return nil, fmt.Errorf("unknown top level operator: %s (courier-mongo supports $and, $or, $nor and field conditions)", key)
			}
			fm, err := compileField(key, v)
			if err != nil {
				return nil, err
			}
			m = fm
		}
		parts = append(parts, m)
	}
	return func(doc bsoncore.Document) bool {
		for _, p := range parts {
			if !p(doc) {
				return false
			}
		}
		return true
	}, nil
}

func logical(op string, subs []matcher) matcher {
	return func(doc bsoncore.Document) bool {
		for _, s := range subs {
			ok := s(doc)
			switch {
			case op == "$and" && !ok:
				return false
			case op == "$or" && ok:
				return true
			case op == "$nor" && ok:
				return false
			}
		}
		return op != "$or"
	}
}

// compileField compiles {path: cond}.
func compileField(path string, cond bsoncore.Value) (matcher, error) {
	pred, err := compileCond(cond)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	keys := strings.Split(path, ".")
	return func(doc bsoncore.Document) bool { return pred(lookup(doc, keys)) }, nil
}

// A predicate sees the values a path reaches (none when it is missing).
type predicate func(vals []bsoncore.Value) bool

func isOperatorDoc(v bsoncore.Value) (bsoncore.Document, bool) {
	d, ok := v.DocumentOK()
	if !ok {
		return nil, false
	}
	e, err := d.IndexErr(0)
	if err != nil {
		return nil, false
	}
	return d, strings.HasPrefix(e.Key(), "$")
}

func compileCond(cond bsoncore.Value) (predicate, error) {
	ops, ok := isOperatorDoc(cond)
	if !ok {
		return eqPred(cond), nil
	}
	elems, _ := ops.Elements()
	var preds []predicate
	for _, e := range elems {
		v := e.Value()
		var p predicate
		switch op := e.Key(); op {
		case "$eq":
			p = eqPred(v)
		case "$ne":
			eq := eqPred(v)
			p = func(vals []bsoncore.Value) bool { return !eq(vals) }
		case "$in", "$nin":
			arr, ok := v.ArrayOK()
			if !ok {
				return nil, fmt.Errorf("%s needs an array", op)
			}
			list, _ := arr.Values()
			eqs := make([]predicate, len(list))
			for i, x := range list {
				eqs[i] = eqPred(x)
			}
			in := func(vals []bsoncore.Value) bool {
				for _, eq := range eqs {
					if eq(vals) {
						return true
					}
				}
				return false
			}
			p = in
			if op == "$nin" {
				p = func(vals []bsoncore.Value) bool { return !in(vals) }
			}
		case "$exists":
			want := truthy(v)
			p = func(vals []bsoncore.Value) bool { return (len(vals) > 0) == want }
		case "$gt", "$gte", "$lt", "$lte":
			p = cmpPred(op, v)
		case "$not":
			sub, err := compileCond(v)
			if err != nil {
				return nil, err
			}
			p = func(vals []bsoncore.Value) bool { return !sub(vals) }
		default:
			return nil, fmt.Errorf("unknown operator %s (courier-mongo supports $eq $ne $in $nin $exists $gt $gte $lt $lte $not)", op)
		}
		preds = append(preds, p)
	}
	return func(vals []bsoncore.Value) bool {
		for _, p := range preds {
			if !p(vals) {
				return false
			}
		}
		return true
	}, nil
}

// eqPred: a value equal to want, or an array holding one; null also
// matches a missing field.
func eqPred(want bsoncore.Value) predicate {
	return func(vals []bsoncore.Value) bool {
		if len(vals) == 0 {
			return want.Type == bsoncore.TypeNull
		}
		for _, v := range vals {
			if equal(v, want) {
				return true
			}
			if arr, ok := v.ArrayOK(); ok && want.Type != bsoncore.TypeArray {
				items, _ := arr.Values()
				for _, it := range items {
					if equal(it, want) {
						return true
					}
				}
			}
		}
		return false
	}
}

func cmpPred(op string, want bsoncore.Value) predicate {
	test := func(v bsoncore.Value) bool {
		c, ok := compare(v, want)
		if !ok {
			return false
		}
		switch op {
		case "$gt":
			return c > 0
		case "$gte":
			return c >= 0
		case "$lt":
			return c < 0
		}
		return c <= 0
	}
	return func(vals []bsoncore.Value) bool {
		for _, v := range vals {
			if test(v) {
				return true
			}
			if arr, ok := v.ArrayOK(); ok {
				items, _ := arr.Values()
				for _, it := range items {
					if test(it) {
						return true
					}
				}
			}
		}
		return false
	}
}

func truthy(v bsoncore.Value) bool {
	switch v.Type {
	case bsoncore.TypeBoolean:
		return v.Boolean()
	case bsoncore.TypeNull, bsoncore.TypeUndefined:
		return false
	}
	if f, ok := number(v); ok {
		return f != 0
	}
	return true
}

// lookup returns the values path reaches in doc; through arrays of
// documents it reaches each element's field, as MongoDB's queries do.
func lookup(doc bsoncore.Document, keys []string) []bsoncore.Value {
	v, err := doc.LookupErr(keys[0])
	if err != nil {
		return nil
	}
	if len(keys) == 1 {
		return []bsoncore.Value{v}
	}
	switch v.Type {
	case bsoncore.TypeEmbeddedDocument:
		return lookup(v.Document(), keys[1:])
	case bsoncore.TypeArray:
		items, _ := v.Array().Values()
		var out []bsoncore.Value
		for _, it := range items {
			if d, ok := it.DocumentOK(); ok {
				out = append(out, lookup(d, keys[1:])...)
			}
		}
		return out
	}
	return nil
}

func number(v bsoncore.Value) (float64, bool) {
	switch v.Type {
	case bsoncore.TypeInt32:
		return float64(v.Int32()), true
	case bsoncore.TypeInt64:
		return float64(v.Int64()), true
	case bsoncore.TypeDouble:
		return v.Double(), true
	}
	return 0, false
}

// compare orders values of comparable types (numbers across their
// types; strings; dates; timestamps; object ids; booleans).
func compare(a, b bsoncore.Value) (int, bool) {
	if x, ok := number(a); ok {
		y, ok := number(b)
		if !ok {
			return 0, false
		}
		if a.Type == bsoncore.TypeInt64 && b.Type == bsoncore.TypeInt64 {
			return cmp3(a.Int64(), b.Int64()), true
		}
		if math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		return cmp3(x, y), true
	}
	if a.Type != b.Type {
		return 0, false
	}
	switch a.Type {
	case bsoncore.TypeString:
		return strings.Compare(a.StringValue(), b.StringValue()), true
	case bsoncore.TypeDateTime:
		return cmp3(a.DateTime(), b.DateTime()), true
	case bsoncore.TypeTimestamp:
		at, ai := a.Timestamp()
		bt, bi := b.Timestamp()
		if at != bt {
			return cmp3(at, bt), true
		}
		return cmp3(ai, bi), true
	case bsoncore.TypeObjectID:
		x, y := a.ObjectID(), b.ObjectID()
		return bytes.Compare(x[:], y[:]), true
	case bsoncore.TypeBoolean:
		x, y := 0, 0
		if a.Boolean() {
			x = 1
		}
		if b.Boolean() {
			y = 1
		}
		return cmp3(x, y), true
	}
	return 0, false
}

func cmp3[T int | int64 | uint32 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func equal(a, b bsoncore.Value) bool {
	if c, ok := compare(a, b); ok {
		return c == 0
	}
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case bsoncore.TypeNull, bsoncore.TypeUndefined:
		return true
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
		// Field order matters, as in MongoDB.
		return bytes.Equal(a.Data, b.Data)
	}
	return bytes.Equal(a.Data, b.Data)
}
