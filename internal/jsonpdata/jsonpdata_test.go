package jsonpdata

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/courier-otel/courier/internal/jsontest"
)

// canonical turns a value into plain Go values where numbers are compared
// by value: int64 for integers that fit, float64 for other numbers that fit,
// and "n:<text>" for those kept as text.
func canonical(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		m := map[string]any{}
		for k, e := range v.Map().All() {
			m[k] = canonical(e)
		}
		return m
	case pcommon.ValueTypeSlice:
		s := []any{}
		for i := 0; i < v.Slice().Len(); i++ {
			s = append(s, canonical(v.Slice().At(i)))
		}
		return s
	case pcommon.ValueTypeBytes:
		return jsontest.Number(string(v.Bytes().AsRaw()))
	case pcommon.ValueTypeEmpty:
		return nil
	}
	return v.AsRaw()
}

func stdDecode(b []byte) (any, error) {
	v, err := jsontest.Canonical(b)
	if err != nil {
		return nil, &SyntaxError{Msg: "encoding/json: " + err.Error()}
	}
	return v, nil
}

// checkAgainstStd asserts that Decode accepts exactly what encoding/json
// accepts, to the same value, and that AppendValue writes it back.
func checkAgainstStd(t *testing.T, in []byte) {
	t.Helper()
	v := pcommon.NewValueEmpty()
	err := Decode(in, v)
	want, stdErr := stdDecode(in)
	if (err == nil) != (stdErr == nil) {
		t.Fatalf("Decode(%q) error = %v, encoding/json error = %v", in, err, stdErr)
	}
	if err != nil {
		return
	}
	if got := canonical(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %#v, encoding/json = %#v", in, got, want)
	}
	out, err := AppendValue(nil, v)
	if err != nil {
		t.Fatalf("AppendValue after Decode(%q): %v", in, err)
	}
	again, err := stdDecode(out)
	if err != nil {
		t.Fatalf("AppendValue wrote invalid JSON %q: %v", out, err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("round trip of %q gave %q", in, out)
	}
	v2 := pcommon.NewValueEmpty()
	if err := Decode(out, v2); err != nil || !v2.Equal(v) {
		t.Fatalf("decoding %q again: %v, equal=%v", out, err, v2.Equal(v))
	}
}

var seeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `0.5`, `-0.0`, `1e3`, `1E-3`, `1.5e+300`,
	`9223372036854775807`, `-9223372036854775808`, `9223372036854775808`, `18446744073709551615`,
	`-9223372036854775809`, `123456789012345678901234567890`, `1e400`, `-1e400`, `1e-400`,
	`9007199254740993`, `0.1`, `3.141592653589793`, `123456789012345678`, `1234567890123456789`,
	`"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u4e2d\ud83d\ude00"`, `"é中😀"`,
	`"\ud800"`, `"\udc00x"`, `"\ud800\u0041"`, `"\ud83d\ude00\ud83d"`, "\"bad \xff utf8\"", "\"\xed\xa0\x80\"",
	`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":null}]}}`, ` [ 1 , 2 ] `, `[[[[]]]]`, `{"":""}`,
	`{"k":"\u0000"}`, `[1,2,]`, `{"a":1,}`, `{"a" 1}`, `[01]`, `[1.]`, `[.5]`, `[1e]`, `[-]`, `[+1]`,
	`"unterminated`, `"\x"`, `"\u12"`, `tru`, `nul`, `[1 2]`, `{"a":1}x`, ``, ` `, "\"ctl\x01\"",
	`{"a":1}{"b":2}`, `[NaN]`, `[Infinity]`, `"\u00"`, `{1:2}`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		t.Run(s, func(t *testing.T) { checkAgainstStd(t, []byte(s)) })
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  pcommon.ValueType
		want string // AsString of the decoded value, or the kept text
		out  string // AppendValue output
	}{
		{"42", pcommon.ValueTypeInt, "42", "42"},
		{"-9223372036854775808", pcommon.ValueTypeInt, "-9223372036854775808", "-9223372036854775808"},
		{"18446744073709551615", pcommon.ValueTypeBytes, "18446744073709551615", "18446744073709551615"},
		{"1e400", pcommon.ValueTypeBytes, "1e400", "1e400"},
		{"1.0", pcommon.ValueTypeDouble, "1", "1.0"},
		{"1e3", pcommon.ValueTypeDouble, "1000", "1000.0"},
		{"1e21", pcommon.ValueTypeDouble, "1e+21", "1e+21"},
		{"0.000001", pcommon.ValueTypeDouble, "0.000001", "0.000001"},
		{"1e-7", pcommon.ValueTypeDouble, "1e-7", "1e-07"},
		{"-0.0", pcommon.ValueTypeDouble, "-0", "-0.0"},
	} {
		v := pcommon.NewValueEmpty()
		if err := Decode([]byte(tc.in), v); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if v.Type() != tc.typ {
			t.Errorf("%s: type %s, want %s", tc.in, v.Type(), tc.typ)
		}
		got := v.AsString()
		if v.Type() == pcommon.ValueTypeBytes {
			got = string(v.Bytes().AsRaw())
		}
		if got != tc.want {
			t.Errorf("%s: value %s, want %s", tc.in, got, tc.want)
		}
		out, err := AppendValue(nil, v)
		if err != nil || string(out) != tc.out {
			t.Errorf("%s: AppendValue = %s, %v; want %s", tc.in, out, err, tc.out)
		}
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"":                   `""`,
		"plain":              `"plain"`,
		"q\"b\\":             `"q\"b\\"`,
		"\n\r\t\b\f\x00\x1f": `"\n\r\t\b\f\u0000\u001f"`,
		"<&>":                `"<&>"`,
		"é中😀":                `"é中😀"`,
		"a\xffb":             `"a\ufffdb"`,
		"\u2028\u2029":       `"\u2028\u2029"`,
	} {
		if got := string(AppendString(nil, in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
		if !json.Valid(AppendString(nil, in)) {
			t.Errorf("AppendString(%q) is not valid JSON", in)
		}
	}
}

func TestAppendNotJSON(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		v := pcommon.NewValueEmpty()
		v.SetEmptyMap().PutDouble("x", f)
		if _, err := AppendValue(nil, v); err == nil || !strings.Contains(err.Error(), "x:") {
			t.Errorf("AppendValue(%v) error = %v, want one naming the member", f, err)
		}
	}
}

func TestBytesThatAreNotNumbers(t *testing.T) {
	v := pcommon.NewValueEmpty()
	v.SetEmptyMap().PutEmptyBytes("b").FromRaw([]byte{0, 1, 2})
	out, err := AppendValue(nil, v)
	if err != nil || string(out) != `{"b":"AAEC"}` {
		t.Fatalf("AppendValue = %s, %v", out, err)
	}
}

func TestDepthLimit(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if err := Decode([]byte(deep), pcommon.NewValueEmpty()); err == nil || !strings.Contains(err.Error(), "depth") {
		t.Fatalf("Decode of %d nested arrays: %v, want a depth error", MaxDepth+1, err)
	}
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := Decode([]byte(ok), pcommon.NewValueEmpty()); err != nil {
		t.Fatalf("Decode of %d nested arrays: %v", MaxDepth, err)
	}
}

func TestParserDoesNotAliasInput(t *testing.T) {
	in := []byte(`{"k":"value"}`)
	v := pcommon.NewValueEmpty()
	if err := Decode(in, v); err != nil {
		t.Fatal(err)
	}
	copy(in, `{"k":"XXXXX"}`)
	if got, _ := v.Map().Get("k"); got.Str() != "value" {
		t.Fatalf("decoded string changed with its input: %q", got.Str())
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if bytes.Count(in, []byte("[")) > 1000 || bytes.Count(in, []byte("{")) > 1000 {
			return // depth limits differ from encoding/json's; TestDepthLimit covers ours
		}
		checkAgainstStd(t, in)
	})
}

func BenchmarkDecode(b *testing.B) {
	in := []byte(`{"eventName":"extension.startup","durationMs":1234.5,"count":42,"success":true,"extensionName":"omni.kit.window.viewport","gpu":{"name":"NVIDIA RTX A6000","memoryMB":49140},"tags":["render","startup"],"message":"started in 1234.5 ms with \"default\" settings","nested":{"a":[1,2,3],"b":null}}`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(in, pcommon.NewValueEmpty()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSpecial8(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c == '"' || c == '\\' || c < 0x20 || c >= 0x80
		for pos := range 8 {
			var b [8]byte
			for i := range b {
				b[i] = 'a'
			}
			b[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(b[i])
			}
			if got := special8(x); got != want {
				t.Fatalf("special8 with %#x at byte %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}

func TestSpecial8Random(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		x := r.Uint64()
		if r.IntN(2) == 0 { // mostly plain ASCII, like real text
			x = x&0x3f3f3f3f3f3f3f3f | 0x2020202020202020 | x&(0x4040404040404040)
		}
		want := false
		for i := range 8 {
			c := byte(x >> (8 * i))
			want = want || c == '"' || c == '\\' || c < 0x20 || c >= 0x80
		}
		if got := special8(x); got != want {
			t.Fatalf("special8(%#016x) = %v, want %v", x, got, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	in, err := os.ReadFile("../../pkg/cloudevent/testdata/omniverse.json")
	if err != nil {
		b.Fatal(err)
	}
	var p Parser
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
