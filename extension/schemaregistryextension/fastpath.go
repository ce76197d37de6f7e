package schemaregistryextension

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The fast path.
//
// jsonschema/v6 validates Go values (map[string]any, …) and compares every
// number through math/big parsed from fmt output: ~33 µs and ~340
// allocations for a 700-byte event, far from the 5 µs budget of the
// 150,000 events/s pipeline. The fast path is a second form of the same
// compiled schema (jsonschema.Schema, refs and regexps resolved by the
// library) that walks the pcommon Body directly (~1.9 µs, allocating only
// where a format check boxes a string).
//
// It answers valid, invalid or unsure, and mirrors the library exactly for
// the keywords it knows, including the library's number semantics: a
// double is compared as the shortest decimal that prints it (what
// fmt.Sprint yields), an integer exactly. Anything else (keywords of later
// drafts, dependencies, contains, propertyNames, multipleOf on fractions,
// numbers beyond int64, deep nesting) is "unsure". Only "valid" is taken as
// is; for "invalid" and "unsure" the library validates and its answer is
// final, so the fast path can make validation faster but never more lenient
// (FuzzFastPath checks the two agree).

type verdict uint8

const (
	vValid verdict = iota
	vInvalid
	vUnsure
)

// maxFastDepth bounds the nesting the fast path follows (a $ref cycle on
// one value is reported by the library), and fastBudget the schema nodes it
// evaluates for one event: combinators over recursive $refs could
// otherwise take exponential time. Beyond either, the library decides.
const (
	maxFastDepth = 64
	fastBudget   = 1 << 16
)

// validateFast runs the fast path on one value.
func (n *fnode) validateFast(v pcommon.Value) verdict {
	budget := fastBudget
	return n.validate(v, 0, &budget)
}

// JSON types as a bit set.
type typeMask uint8

const (
	tNull typeMask = 1 << iota
	tBoolean
	tNumber
	tInteger
	tString
	tArray
	tObject
)

var typeBits = map[string]typeMask{
	"null": tNull, "boolean": tBoolean, "number": tNumber, "integer": tInteger,
	"string": tString, "array": tArray, "object": tObject,
}

// Bound kinds.
const (
	bMin uint8 = iota
	bMax
	bExMin
	bExMax
)

// bound is a minimum or maximum in a form that compares without math/big.
// b.f is the float64 nearest to the bound B. A value whose float differs
// from b.f lies on the same side of B as of b.f (the real numbers that round
// to different floats do not interleave); only a value equal to b.f needs
// the precomputed comparisons.
type bound struct {
	kind     uint8
	isInt    bool    // B is an integer in int64 range
	i        int64   // B, when isInt
	f        float64 // nearest float64 to B
	cmpShort int     // cmp(shortest decimal of f, B): a double equal to f
	cmpExact int     // cmp(exact value of f, B): an integer equal to f
}

// fval is an enum or const value in comparable form.
type fval struct {
	kind    uint8 // fvNull, fvBool, fvString, fvNumber, fvComplex
	b       bool
	s       string
	isInt   bool    // number: an integer in int64 range
	i       int64   // number, when isInt
	floatOK bool    // number: some double prints as exactly this number
	f       float64 // that double
}

const (
	fvNull uint8 = iota
	fvBool
	fvString
	fvNumber
	fvComplex // array or object: compared by the library
)

type patternProp struct {
	re jsonschema.Regexp
	n  *fnode
}

// fnode is one compiled schema in fast form.
type fnode struct {
	unsupported bool   // a keyword the fast path does not evaluate
	boolSchema  int8   // 1: true schema, -1: false schema
	ref         *fnode // draft-07 $ref: replaces every sibling

	types    typeMask // 0: no type keyword
	hasConst bool
	constVal fval
	hasEnum  bool
	enum     []fval
	format   *jsonschema.Format

	minProps, maxProps int // -1: none
	required           []string
	props              map[string]*fnode
	patterns           []patternProp
	addlFalse          bool
	addl               *fnode

	minItems, maxItems int // -1: none
	unique             bool
	items              *fnode
	hasTuple           bool // items is an array of schemas
	tuple              []*fnode
	addItemsFalse      bool
	addItems           *fnode

	minLen, maxLen int // -1: none
	pattern        jsonschema.Regexp

	bounds     []bound
	multipleOf int64 // > 0: an integer multipleOf

	not                 *fnode
	allOf, anyOf, oneOf []*fnode
	ifN, thenN, elseN   *fnode
}

// compileFast builds the fast form of a compiled schema.
func compileFast(s *jsonschema.Schema) *fnode {
	return (&fastCompiler{memo: map[*jsonschema.Schema]*fnode{}}).node(s)
}

type fastCompiler struct {
	memo map[*jsonschema.Schema]*fnode
}

func (c *fastCompiler) node(s *jsonschema.Schema) *fnode {
	if s == nil {
		return nil
	}
	if n, ok := c.memo[s]; ok {
		return n
	}
	n := &fnode{minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
	c.memo[s] = n // before the children: schemas may be recursive

	if s.Bool != nil {
		n.boolSchema = -1
		if *s.Bool {
			n.boolSchema = 1
		}
		return n
	}
	if s.DraftVersion > 7 ||
		s.RecursiveRef != nil || s.DynamicRef != nil || s.Dependencies != nil ||
		s.DependentRequired != nil || s.DependentSchemas != nil || s.PropertyNames != nil ||
		s.UnevaluatedProperties != nil || s.UnevaluatedItems != nil || s.Contains != nil ||
		s.MinContains != nil || s.MaxContains != nil || s.PrefixItems != nil || s.Items2020 != nil ||
		s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil ||
		len(s.Extensions) > 0 {
		n.unsupported = true
		return n
	}

	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			n.types |= typeBits[t]
		}
	}
	if s.Const != nil {
		n.hasConst = true
		n.constVal = newFval(*s.Const)
	}
	if s.Enum != nil {
		n.hasEnum = true
		for _, v := range s.Enum.Values {
			n.enum = append(n.enum, newFval(v))
		}
	}
	n.format = s.Format
	n.ref = c.node(s.Ref)

	n.minProps = intOr(s.MinProperties)
	n.maxProps = intOr(s.MaxProperties)
	n.required = s.Required
	if len(s.Properties) > 0 {
		n.props = make(map[string]*fnode, len(s.Properties))
		for k, ps := range s.Properties {
			n.props[k] = c.node(ps)
		}
	}
	for re, ps := range s.PatternProperties {
		n.patterns = append(n.patterns, patternProp{re: re, n: c.node(ps)})
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		n.addlFalse = !a
	case *jsonschema.Schema:
		n.addl = c.node(a)
	}

	n.minItems = intOr(s.MinItems)
	n.maxItems = intOr(s.MaxItems)
	n.unique = s.UniqueItems
	switch it := s.Items.(type) {
	case *jsonschema.Schema:
		n.items = c.node(it)
	case []*jsonschema.Schema:
		n.hasTuple = true
		for _, e := range it {
			n.tuple = append(n.tuple, c.node(e))
		}
		switch a := s.AdditionalItems.(type) {
		case bool:
			n.addItemsFalse = !a
		case *jsonschema.Schema:
			n.addItems = c.node(a)
		}
	}

	n.minLen = intOr(s.MinLength)
	n.maxLen = intOr(s.MaxLength)
	n.pattern = s.Pattern

	for _, b := range []struct {
		kind uint8
		r    *big.Rat
	}{{bMin, s.Minimum}, {bMax, s.Maximum}, {bExMin, s.ExclusiveMinimum}, {bExMax, s.ExclusiveMaximum}} {
		if b.r != nil {
			n.bounds = append(n.bounds, newBound(b.kind, b.r))
		}
	}
	if s.MultipleOf != nil {
		if s.MultipleOf.IsInt() && s.MultipleOf.Num().IsInt64() && s.MultipleOf.Sign() > 0 {
			n.multipleOf = s.MultipleOf.Num().Int64()
		} else {
			n.unsupported = true
		}
	}

	n.not = c.node(s.Not)
	for _, e := range s.AllOf {
		n.allOf = append(n.allOf, c.node(e))
	}
	for _, e := range s.AnyOf {
		n.anyOf = append(n.anyOf, c.node(e))
	}
	for _, e := range s.OneOf {
		n.oneOf = append(n.oneOf, c.node(e))
	}
	n.ifN, n.thenN, n.elseN = c.node(s.If), c.node(s.Then), c.node(s.Else)
	return n
}

func intOr(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// shortestRat is the value of the shortest decimal that prints f, the way
// the library reads a float64 (fmt.Sprint, then big.Rat).
func shortestRat(f float64) *big.Rat {
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return r
}

func newBound(kind uint8, r *big.Rat) bound {
	b := bound{kind: kind}
	if r.IsInt() && r.Num().IsInt64() {
		b.isInt, b.i = true, r.Num().Int64()
	}
	b.f, _ = r.Float64()
	if !math.IsInf(b.f, 0) {
		b.cmpShort = shortestRat(b.f).Cmp(r)
		b.cmpExact = new(big.Rat).SetFloat64(b.f).Cmp(r)
	}
	return b
}

func newFval(v any) fval {
	switch v := v.(type) {
	case nil:
		return fval{kind: fvNull}
	case bool:
		return fval{kind: fvBool, b: v}
	case string:
		return fval{kind: fvString, s: v}
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		if !ok {
			return fval{kind: fvComplex}
		}
		fv := fval{kind: fvNumber}
		if r.IsInt() && r.Num().IsInt64() {
			fv.isInt, fv.i = true, r.Num().Int64()
		}
		if f, _ := r.Float64(); !math.IsInf(f, 0) && shortestRat(f).Cmp(r) == 0 {
			fv.floatOK, fv.f = true, f
		}
		return fv
	}
	return fval{kind: fvComplex}
}

// maxExactInt is the largest integer range float64 holds exactly.
const maxExactInt = 1 << 53

// equal compares an instance value with an enum or const value.
func (e *fval) equal(v pcommon.Value) verdict {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return boolVerdict(e.kind == fvNull)
	case pcommon.ValueTypeBool:
		return boolVerdict(e.kind == fvBool && e.b == v.Bool())
	case pcommon.ValueTypeStr:
		return boolVerdict(e.kind == fvString && e.s == v.Str())
	case pcommon.ValueTypeInt:
		if e.kind != fvNumber {
			return vInvalid
		}
		return boolVerdict(e.isInt && e.i == v.Int())
	case pcommon.ValueTypeDouble:
		if e.kind != fvNumber {
			return vInvalid
		}
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return vUnsure
		}
		return boolVerdict(e.floatOK && e.f == f)
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		if e.kind == fvComplex {
			return vUnsure
		}
		return vInvalid
	}
	return vUnsure // bytes
}

func boolVerdict(ok bool) verdict {
	if ok {
		return vValid
	}
	return vInvalid
}

// compare compares an instance number with the bound: -1, 0 or 1, and
// false when the fast path cannot tell.
func (b *bound) compare(v pcommon.Value) (int, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		i := v.Int()
		if b.isInt {
			return cmpInt(i, b.i), true
		}
		if i > maxExactInt || i < -maxExactInt {
			return 0, false
		}
		f := float64(i)
		switch {
		case f < b.f:
			return -1, true
		case f > b.f:
			return 1, true
		}
		return b.cmpExact, true
	case pcommon.ValueTypeDouble:
		f := v.Double()
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return 0, false
		case f < b.f:
			return -1, true
		case f > b.f:
			return 1, true
		}
		return b.cmpShort, true
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// instanceType is the JSON type of v (integer-valued numbers also count as
// integer), and false for values the fast path leaves to the library.
func instanceType(v pcommon.Value) (typeMask, bool) {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return tNull, true
	case pcommon.ValueTypeBool:
		return tBoolean, true
	case pcommon.ValueTypeStr:
		return tString, true
	case pcommon.ValueTypeInt:
		return tNumber | tInteger, true
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		if f == math.Trunc(f) {
			return tNumber | tInteger, true
		}
		return tNumber, true
	case pcommon.ValueTypeMap:
		return tObject, true
	case pcommon.ValueTypeSlice:
		return tArray, true
	}
	return 0, false
}

// validate mirrors the library's validator.validate for one value.
func (n *fnode) validate(v pcommon.Value, depth int, budget *int) verdict {
	if n == nil {
		return vValid
	}
	switch {
	case n.boolSchema > 0:
		return vValid
	case n.boolSchema < 0:
		return vInvalid
	case n.unsupported || depth > maxFastDepth || *budget <= 0:
		return vUnsure
	}
	*budget--
	t, ok := instanceType(v)
	if !ok {
		return vUnsure
	}
	if n.types != 0 && n.types&t == 0 {
		return vInvalid
	}
	if n.hasConst {
		if r := n.constVal.equal(v); r != vValid {
			return r
		}
	}
	if n.hasEnum {
		r := vInvalid
		for i := range n.enum {
			switch n.enum[i].equal(v) {
			case vValid:
				r = vValid
			case vUnsure:
				return vUnsure
			}
			if r == vValid {
				break
			}
		}
		if r != vValid {
			return r
		}
	}
	if n.format != nil {
		var err error
		if v.Type() == pcommon.ValueTypeStr {
			err = n.format.Validate(v.Str())
		} else {
			err = n.format.Validate(jsonValue(v))
		}
		if err != nil {
			return vInvalid
		}
	}
	if n.ref != nil {
		return n.ref.validate(v, depth+1, budget)
	}

	var r verdict
	switch v.Type() {
	case pcommon.ValueTypeMap:
		r = n.object(v.Map(), depth, budget)
	case pcommon.ValueTypeSlice:
		r = n.array(v.Slice(), depth, budget)
	case pcommon.ValueTypeStr:
		r = n.str(v.Str())
	case pcommon.ValueTypeInt, pcommon.ValueTypeDouble:
		r = n.number(v)
	}
	if r != vValid {
		return r
	}
	return n.conditions(v, depth, budget)
}

func (n *fnode) object(m pcommon.Map, depth int, budget *int) verdict {
	if n.minProps >= 0 && m.Len() < n.minProps {
		return vInvalid
	}
	if n.maxProps >= 0 && m.Len() > n.maxProps {
		return vInvalid
	}
	for _, name := range n.required {
		if _, ok := m.Get(name); !ok {
			return vInvalid
		}
	}
	for k, e := range m.All() {
		evaluated := false
		if pn, ok := n.props[k]; ok {
			evaluated = true
			if r := pn.validate(e, depth+1, budget); r != vValid {
				return r
			}
		}
		for _, p := range n.patterns {
			if p.re.MatchString(k) {
				evaluated = true
				if r := p.n.validate(e, depth+1, budget); r != vValid {
					return r
				}
			}
		}
		if !evaluated {
			if n.addlFalse {
				return vInvalid
			}
			if n.addl != nil {
				if r := n.addl.validate(e, depth+1, budget); r != vValid {
					return r
				}
			}
		}
	}
	return vValid
}

func (n *fnode) array(s pcommon.Slice, depth int, budget *int) verdict {
	l := s.Len()
	if n.minItems >= 0 && l < n.minItems {
		return vInvalid
	}
	if n.maxItems >= 0 && l > n.maxItems {
		return vInvalid
	}
	if n.unique && l > 1 {
		if r := uniqueItems(s); r != vValid {
			return r
		}
	}
	switch {
	case n.items != nil:
		for i := 0; i < l; i++ {
			if r := n.items.validate(s.At(i), depth+1, budget); r != vValid {
				return r
			}
		}
	case n.hasTuple:
		for i := 0; i < l; i++ {
			var r verdict
			switch {
			case i < len(n.tuple):
				r = n.tuple[i].validate(s.At(i), depth+1, budget)
			case n.addItemsFalse:
				r = vInvalid
			case n.addItems != nil:
				r = n.addItems.validate(s.At(i), depth+1, budget)
			}
			if r != vValid {
				return r
			}
		}
	}
	return vValid
}

// maxFastUnique bounds the arrays whose uniqueness the fast path checks
// (pairwise); longer ones go to the library.
const maxFastUnique = 64

// uniqueItems checks that no two scalar items are equal in the library's
// sense (numbers by value, so 1 equals 1.0).
func uniqueItems(s pcommon.Slice) verdict {
	l := s.Len()
	if l > maxFastUnique {
		return vUnsure
	}
	for i := 1; i < l; i++ {
		a := s.At(i)
		for j := 0; j < i; j++ {
			switch scalarEqual(a, s.At(j)) {
			case vValid:
				return vInvalid // a duplicate
			case vUnsure:
				return vUnsure
			}
		}
	}
	return vValid
}

// scalarEqual compares two scalars: vValid when equal, vInvalid when not.
func scalarEqual(a, b pcommon.Value) verdict {
	ta, tb := a.Type(), b.Type()
	isNum := func(t pcommon.ValueType) bool { return t == pcommon.ValueTypeInt || t == pcommon.ValueTypeDouble }
	switch {
	case ta == pcommon.ValueTypeMap || ta == pcommon.ValueTypeSlice || ta == pcommon.ValueTypeBytes ||
		tb == pcommon.ValueTypeMap || tb == pcommon.ValueTypeSlice || tb == pcommon.ValueTypeBytes:
		return vUnsure
	case isNum(ta) && isNum(tb):
		if ta == pcommon.ValueTypeInt && tb == pcommon.ValueTypeInt {
			return boolVerdict(a.Int() == b.Int())
		}
		if ta == pcommon.ValueTypeInt {
			a, b = b, a // a is the double
		}
		fa := a.Double()
		if math.IsNaN(fa) || math.IsInf(fa, 0) {
			return vUnsure
		}
		if b.Type() == pcommon.ValueTypeDouble {
			fb := b.Double()
			if math.IsNaN(fb) || math.IsInf(fb, 0) {
				return vUnsure
			}
			return boolVerdict(fa == fb)
		}
		i := b.Int()
		if i > maxExactInt || i < -maxExactInt {
			return vUnsure
		}
		return boolVerdict(fa == float64(i))
	case ta != tb:
		return vInvalid
	case ta == pcommon.ValueTypeStr:
		return boolVerdict(a.Str() == b.Str())
	case ta == pcommon.ValueTypeBool:
		return boolVerdict(a.Bool() == b.Bool())
	}
	return vValid // both null
}

func (n *fnode) str(s string) verdict {
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(s)
		if n.minLen >= 0 && l < n.minLen {
			return vInvalid
		}
		if n.maxLen >= 0 && l > n.maxLen {
			return vInvalid
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		return vInvalid
	}
	return vValid
}

func (n *fnode) number(v pcommon.Value) verdict {
	for i := range n.bounds {
		b := &n.bounds[i]
		c, ok := b.compare(v)
		if !ok {
			return vUnsure
		}
		var pass bool
		switch b.kind {
		case bMin:
			pass = c >= 0
		case bMax:
			pass = c <= 0
		case bExMin:
			pass = c > 0
		case bExMax:
			pass = c < 0
		}
		if !pass {
			return vInvalid
		}
	}
	if n.multipleOf > 0 {
		var i int64
		switch v.Type() {
		case pcommon.ValueTypeInt:
			i = v.Int()
		default:
			f := v.Double()
			if f != math.Trunc(f) || f > maxExactInt || f < -maxExactInt {
				return vUnsure
			}
			i = int64(f)
		}
		if i%n.multipleOf != 0 {
			return vInvalid
		}
	}
	return vValid
}

// conditions evaluates not, allOf, anyOf, oneOf and if/then/else.
func (n *fnode) conditions(v pcommon.Value, depth int, budget *int) verdict {
	if n.not != nil {
		switch n.not.validate(v, depth+1, budget) {
		case vValid:
			return vInvalid
		case vUnsure:
			return vUnsure
		}
	}
	for _, s := range n.allOf {
		if r := s.validate(v, depth+1, budget); r != vValid {
			return r
		}
	}
	if len(n.anyOf) > 0 {
		r := vInvalid
		for _, s := range n.anyOf {
			switch s.validate(v, depth+1, budget) {
			case vValid:
				r = vValid
			case vUnsure:
				r = vUnsure
			}
			if r == vValid {
				break
			}
		}
		if r != vValid {
			return r
		}
	}
	if len(n.oneOf) > 0 {
		matched, unsure := 0, false
		for _, s := range n.oneOf {
			switch s.validate(v, depth+1, budget) {
			case vValid:
				matched++
			case vUnsure:
				unsure = true
			}
			if matched > 1 {
				return vInvalid
			}
		}
		if unsure {
			return vUnsure
		}
		if matched != 1 {
			return vInvalid
		}
	}
	if n.ifN != nil {
		switch n.ifN.validate(v, depth+1, budget) {
		case vValid:
			if n.thenN != nil {
				return n.thenN.validate(v, depth+1, budget)
			}
		case vInvalid:
			if n.elseN != nil {
				return n.elseN.validate(v, depth+1, budget)
			}
		default:
			return vUnsure
		}
	}
	return vValid
}
