package schemaregistryextension

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer renders validation messages.
var printer = message.NewPrinter(language.English)

// Reasons a schema is skipped. The strings are stable: they label metrics.
const (
	skipNotJSON    = "not_json"
	skipNoMeta     = "no_schema_meta"
	skipBadMeta    = "invalid_meta"
	skipNoEvents   = "no_events"
	skipCompile    = "does_not_compile"
	skipDuplicate  = "duplicate"
	skipTooManyRef = "ref_depth"
)

// skipError is a schema document that cannot be used, and why.
type skipError struct {
	reason string
	msg    string
}

func (e *skipError) Error() string { return e.msg }

func skipf(reason, format string, args ...any) *skipError {
	return &skipError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// schemaSet is one loaded package: every event type of every schema that
// compiled. It is immutable once built.
type schemaSet struct {
	schemas map[string]map[string]*EventSchema // dataschema → event type → schema
	events  int                                // event types in all schemas
	digest  [32]byte                           // of the package's documents
	source  string                             // where the package came from
}

func (s *schemaSet) lookup(dataschema, eventType string) (*EventSchema, LookupResult) {
	events, ok := s.schemas[dataschema]
	if !ok {
		return nil, UnknownSchema
	}
	es, ok := events[eventType]
	if !ok {
		return nil, UnknownEventType
	}
	return es, Found
}

// skipped is a document of a package that was left out.
type skipped struct {
	name   string
	reason string
	err    error
}

// buildSet compiles every document of a package. Documents that cannot be
// used are returned in skips; the rest form the set. Documents are compiled
// in name order, so a duplicate (clientName, schemaVersion) keeps the first.
func buildSet(docs []document) (*schemaSet, []skipped) {
	set := &schemaSet{schemas: map[string]map[string]*EventSchema{}, digest: digest(docs)}
	var skips []skipped
	for _, doc := range docs {
		events, err := compileDocument(doc.name, doc.data)
		if err != nil {
			reason := skipCompile
			var se *skipError
			if errors.As(err, &se) {
				reason = se.reason
			}
			skips = append(skips, skipped{name: doc.name, reason: reason, err: err})
			continue
		}
		key := events[0].DataSchema
		if _, dup := set.schemas[key]; dup {
			skips = append(skips, skipped{name: doc.name, reason: skipDuplicate,
				err: fmt.Errorf("schema %s is already defined by an earlier file of the package", key)})
			continue
		}
		byType := make(map[string]*EventSchema, len(events))
		for _, es := range events {
			byType[es.Type] = es
		}
		set.schemas[key] = byType
		set.events += len(events)
	}
	return set, skips
}

// noLoader refuses every external reference: approved schemas are
// self-contained, and compiling one must never reach the network or disk.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("external $ref %s is not allowed: schemas must be self-contained", u)
}

// compileDocument compiles one baked schema document (SPEC.md B.4) into its
// event types. Any problem with the document skips all of it: a schema is
// approved as a whole.
func compileDocument(name string, data []byte) ([]*EventSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	if err != nil {
		return nil, skipf(skipNotJSON, "not JSON: %v", err)
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, skipf(skipNotJSON, "not a JSON object")
	}
	meta, ok := root["schemaMeta"].(map[string]any)
	if !ok {
		return nil, skipf(skipNoMeta, "no schemaMeta object: not a baked Omniverse schema")
	}
	clientName, _ := meta["clientName"].(string)
	version, _ := meta["schemaVersion"].(string)
	if clientName == "" || version == "" {
		return nil, skipf(skipBadMeta, "schemaMeta.clientName and schemaMeta.schemaVersion must be non-empty strings")
	}
	schemaFlags, err := stringList(meta["omniverseFlags"])
	if err != nil {
		return nil, skipf(skipBadMeta, "schemaMeta.omniverseFlags: %v", err)
	}
	schemaThreshold, err := thresholds(root, meta, "schema root", "schemaMeta")
	if err != nil {
		return nil, err
	}
	defs, _ := root["definitions"].(map[string]any)
	eventDefs, _ := defs["events"].(map[string]any)
	if len(eventDefs) == 0 {
		return nil, skipf(skipNoEvents, "no event definitions under definitions.events")
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(noLoader{})
	// Each document has its own compiler: its name only labels messages.
	loc := "mem:///" + (&url.URL{Path: name}).EscapedPath()
	if err := c.AddResource(loc, doc); err != nil {
		return nil, skipf(skipCompile, "%v", err)
	}
	// The root first: it checks the whole document against the draft-07
	// meta-schema and resolves the refs of its anyOf.
	if _, err := c.Compile(loc); err != nil {
		return nil, skipf(skipCompile, "%s", compileMessage(err))
	}

	types := make([]string, 0, len(eventDefs))
	for typ := range eventDefs {
		types = append(types, typ)
	}
	sort.Strings(types)
	dataschema := clientName + "-" + version
	events := make([]*EventSchema, 0, len(types))
	for _, typ := range types {
		def, ok := eventDefs[typ].(map[string]any)
		if !ok {
			return nil, skipf(skipCompile, "event %s: definition is not an object", typ)
		}
		es := &EventSchema{
			DataSchema:               dataschema,
			ClientName:               clientName,
			SchemaVersion:            version,
			Type:                     typ,
			SchemaFlags:              schemaFlags,
			SchemaOldEventsThreshold: schemaThreshold,
		}
		if err := eventMeta(es, def); err != nil {
			return nil, err
		}
		for _, f := range schemaFlags {
			es.Flags |= flagNames[f] & (FlagSchemaAnonymizeEvents | FlagSchemaIgnoreOldEvents | FlagSchemaPseudonymizeOldEvents)
		}
		for _, f := range es.EventFlags {
			es.Flags |= flagNames[f] & (FlagEventIgnoreOldEvents | FlagEventPseudonymizeOldEvents)
		}
		sch, err := c.Compile(loc + "#/definitions/events/" + pointerToken(typ))
		if err != nil {
			return nil, skipf(skipCompile, "event %s: %s", typ, compileMessage(err))
		}
		es.validator = sch
		es.fast = compileFast(sch)
		if es.Properties, err = properties(sch); err != nil {
			return nil, skipf(skipTooManyRef, "event %s: %v", typ, err)
		}
		events = append(events, es)
	}
	return events, nil
}

// eventMeta reads the privacy category, flags and threshold of one event.
func eventMeta(es *EventSchema, def map[string]any) error {
	meta, _ := def["eventMeta"].(map[string]any)
	if privacy, ok := meta["privacy"].(map[string]any); ok {
		if c, ok := privacy["category"]; ok {
			s, ok := c.(string)
			if !ok {
				return skipf(skipBadMeta, "event %s: eventMeta.privacy.category must be a string", es.Type)
			}
			es.Category = Category(strings.ToLower(strings.TrimSpace(s)))
		}
	}
	var err error
	if es.EventFlags, err = stringList(meta["omniverseFlags"]); err != nil {
		return skipf(skipBadMeta, "event %s: eventMeta.omniverseFlags: %v", es.Type, err)
	}
	es.EventOldEventsThreshold, err = thresholds(def, meta, "event "+es.Type, "event "+es.Type+" eventMeta")
	return err
}

// thresholds reads oldEventsThreshold from an object and its meta object
// (SPEC.md B.4 accepts both) and returns the smallest non-zero.
func thresholds(obj, meta map[string]any, objName, metaName string) (int, error) {
	a, err := threshold(obj, objName)
	if err != nil {
		return 0, err
	}
	b, err := threshold(meta, metaName)
	if err != nil {
		return 0, err
	}
	return MinThreshold(a, b), nil
}

func threshold(obj map[string]any, where string) (int, error) {
	v, ok := obj["oldEventsThreshold"]
	if !ok {
		return 0, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, skipf(skipBadMeta, "%s: oldEventsThreshold must be a number of days", where)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, skipf(skipBadMeta, "%s: oldEventsThreshold must be a whole number of days >= 0, not %s", where, n)
	}
	return int(f), nil
}

func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("must be an array of strings")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("must be an array of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// pointerToken escapes an event name as one JSON pointer token inside a URL
// fragment.
func pointerToken(name string) string {
	name = strings.ReplaceAll(name, "~", "~0")
	name = strings.ReplaceAll(name, "/", "~1")
	return url.PathEscape(name)
}

// compileMessage shortens the compiler's error to one line.
func compileMessage(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "\n", "; ")
	return msg
}

// maxRefDepth bounds $ref chains when reading declared property types.
const maxRefDepth = 32

// properties reads the declared type of each data member of an event.
func properties(sch *jsonschema.Schema) (map[string]Property, error) {
	sch, err := deref(sch)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Property, len(sch.Properties))
	for name, ps := range sch.Properties {
		p, err := property(ps, 0)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

// maxItemsDepth bounds how deep declared types of nested arrays are read;
// a recursive schema would otherwise never end.
const maxItemsDepth = 8

func property(sch *jsonschema.Schema, depth int) (Property, error) {
	sch, err := deref(sch)
	if err != nil {
		return Property{}, err
	}
	var p Property
	if sch.Types != nil {
		var nonNull []string
		for _, t := range sch.Types.ToStrings() {
			if t != "null" {
				nonNull = append(nonNull, t)
			}
		}
		if len(nonNull) == 1 {
			p.Type = nonNull[0]
		}
	}
	if sch.Format != nil {
		p.Format = sch.Format.Name
	}
	if items, ok := sch.Items.(*jsonschema.Schema); ok && p.Type == "array" && depth < maxItemsDepth {
		ip, err := property(items, depth+1)
		if err != nil {
			return Property{}, err
		}
		p.Items = &ip
	}
	return p, nil
}

// deref follows a schema's $ref: in draft-07 a $ref replaces its siblings.
func deref(sch *jsonschema.Schema) (*jsonschema.Schema, error) {
	for range maxRefDepth {
		if sch.Ref == nil {
			return sch, nil
		}
		sch = sch.Ref
	}
	return nil, fmt.Errorf("$ref chain longer than %d", maxRefDepth)
}
