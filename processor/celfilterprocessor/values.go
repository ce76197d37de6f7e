package celfilterprocessor

import (
	"reflect"
	"strconv"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// The CEL values below read pcommon values lazily: an expression that looks
// at two members of data converts two members, not the whole event.

// toVal is the CEL value of v.
func toVal(v pcommon.Value) ref.Val {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return types.String(v.Str())
	case pcommon.ValueTypeInt:
		return types.Int(v.Int())
	case pcommon.ValueTypeDouble:
		return types.Double(v.Double())
	case pcommon.ValueTypeBool:
		return types.Bool(v.Bool())
	case pcommon.ValueTypeMap:
		return mapVal{v.Map()}
	case pcommon.ValueTypeSlice:
		return listVal{v.Slice()}
	case pcommon.ValueTypeBytes:
		// A number beyond int64 kept as text (see internal/jsonpdata).
		if b := v.Bytes().AsRaw(); jsonpdata.IsNumber(b) {
			if u, err := strconv.ParseUint(string(b), 10, 64); err == nil {
				return types.Uint(u)
			}
			f, _ := strconv.ParseFloat(string(b), 64)
			return types.Double(f)
		}
		return types.Bytes(v.Bytes().AsRaw())
	}
	return types.NullValue
}

// native is the eager CEL value of raw Go data, for the rare operations
// (equality of whole maps, conversions) the lazy views do not implement.
func native(raw any) ref.Val { return types.DefaultTypeAdapter.NativeToValue(raw) }

type mapVal struct{ m pcommon.Map }

var (
	_ traits.Mapper = mapVal{}
	_ traits.Lister = listVal{}
)

func (v mapVal) ConvertToNative(t reflect.Type) (any, error) {
	return native(v.m.AsRaw()).ConvertToNative(t)
}
func (v mapVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return v
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %s", t)
}
func (v mapVal) Equal(o ref.Val) ref.Val { return native(v.m.AsRaw()).Equal(o) }
func (v mapVal) Type() ref.Type          { return types.MapType }
func (v mapVal) Value() any              { return v.m.AsRaw() }
func (v mapVal) Size() ref.Val           { return types.Int(v.m.Len()) }

func (v mapVal) Contains(key ref.Val) ref.Val {
	_, found := v.Find(key)
	return types.Bool(found)
}

func (v mapVal) Get(key ref.Val) ref.Val {
	if val, found := v.Find(key); found {
		return val
	}
	return types.NewErr("no such key: %v", key)
}

func (v mapVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	e, ok := v.m.Get(string(k))
	if !ok {
		return nil, false
	}
	return toVal(e), true
}

func (v mapVal) Iterator() traits.Iterator {
	keys := make([]string, 0, v.m.Len())
	for k := range v.m.All() {
		keys = append(keys, k)
	}
	return types.NewStringList(types.DefaultTypeAdapter, keys).Iterator()
}

type listVal struct{ s pcommon.Slice }

func (v listVal) ConvertToNative(t reflect.Type) (any, error) { return v.eager().ConvertToNative(t) }
func (v listVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.ListType:
		return v
	case types.TypeType:
		return types.ListType
	}
	return types.NewErr("type conversion error from list to %s", t)
}
func (v listVal) Equal(o ref.Val) ref.Val   { return v.eager().Equal(o) }
func (v listVal) Type() ref.Type            { return types.ListType }
func (v listVal) Value() any                { return v.s.AsRaw() }
func (v listVal) Size() ref.Val             { return types.Int(v.s.Len()) }
func (v listVal) Add(o ref.Val) ref.Val     { return v.eager().Add(o) }
func (v listVal) Iterator() traits.Iterator { return v.eager().Iterator() }
func (v listVal) eager() traits.Lister      { return native(v.s.AsRaw()).(traits.Lister) }

func (v listVal) Contains(e ref.Val) ref.Val {
	for i := 0; i < v.s.Len(); i++ {
		if toVal(v.s.At(i)).Equal(e) == types.True {
			return types.True
		}
	}
	return types.False
}

func (v listVal) Get(index ref.Val) ref.Val {
	i, ok := index.(types.Int)
	if !ok {
		return types.MaybeNoSuchOverloadErr(index)
	}
	if i < 0 || int(i) >= v.s.Len() {
		return types.NewErr("index out of range: %d", i)
	}
	return toVal(v.s.At(int(i)))
}
