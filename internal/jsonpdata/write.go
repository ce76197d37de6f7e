package jsonpdata

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
// Besides what JSON requires, U+2028 and U+2029 are escaped (as encoding/json
// does) so that no line-oriented reader sees a line break inside a JSON line;
// HTML characters are not escaped.
func AppendString(dst []byte, s string) []byte {
	return appendString(dst, "", s)
}

// AppendKey appends prefix+name as a JSON string without concatenating
// them first; prefix must need no escaping (NVDF type prefixes).
func AppendKey(dst []byte, prefix, name string) []byte {
	return appendString(dst, prefix, name)
}

// AppendJSONText appends JSON text written by this package as a JSON
// string. Such text is valid UTF-8 with every control character and U+2028/9
// already escaped, so only quotes and backslashes need escaping. text may
// be a part of dst.
func AppendJSONText(dst, text []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, c := range text {
		if c == '"' || c == '\\' {
			dst = append(dst, text[start:i]...)
			dst = append(dst, '\\', c)
			start = i + 1
		}
	}
	dst = append(dst, text[start:]...)
	return append(dst, '"')
}

func appendString(dst []byte, prefix, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	start := 0
	for i := 0; i < len(s); {
		// Plain ASCII needs no escaping: skip it eight bytes at a time.
		for i+8 <= len(s) && !special8(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendDouble appends f as a JSON number that reads back as a Double: it
// always has a fraction or an exponent. NaN and infinities are not JSON.
func AppendDouble(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%v is not representable in JSON", f)
	}
	start := len(dst)
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
		return dst, nil
	}
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst, nil
		}
	}
	return append(dst, '.', '0'), nil
}

// AppendValue appends v as JSON. Nested Bytes holding a number's text (see
// the package doc) are written as that number, other Bytes as base64 strings.
func AppendValue(dst []byte, v pcommon.Value) ([]byte, error) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return AppendString(dst, v.Str()), nil
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case pcommon.ValueTypeDouble:
		return AppendDouble(dst, v.Double())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case pcommon.ValueTypeMap:
		return AppendMap(dst, v.Map())
	case pcommon.ValueTypeSlice:
		return AppendSlice(dst, v.Slice())
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		if IsNumber(b) {
			return append(dst, b...), nil
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), nil
	default:
		return append(dst, "null"...), nil
	}
}

// AppendMap appends m as a JSON object, members in map order.
func AppendMap(dst []byte, m pcommon.Map) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	for k, v := range m.All() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = AppendValue(dst, v); err != nil {
			return dst, fmt.Errorf("%s: %w", k, err)
		}
	}
	return append(dst, '}'), nil
}

// AppendSlice appends s as a JSON array.
func AppendSlice(dst []byte, s pcommon.Slice) ([]byte, error) {
	dst = append(dst, '[')
	for i := 0; i < s.Len(); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = AppendValue(dst, s.At(i)); err != nil {
			return dst, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}
