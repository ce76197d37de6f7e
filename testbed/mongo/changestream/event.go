package changestream

import (
	"bytes"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/courier-otel/courier/testbed/mongo/changelog"
	"github.com/courier-otel/courier/testbed/mongo/sjson"
)

// Options are the $changeStream stage's document options.
type Options struct {
	FullDocument             string // default, updateLookup, whenAvailable, required
	FullDocumentBeforeChange string // off (default), whenAvailable, required
}

// Replaced reports whether an update of the document new in db.coll came
// from a replacement (FerretDB stores both the same way; the proxy saw
// which one the client sent).
type Replaced func(db, coll string, new bsoncore.Document) bool

// Event builds the change event of e, as the change events specification
// lays it out.
func Event(e changelog.Entry, o Options, replaced Replaced) (bsoncore.Document, error) {
	var old, new bsoncore.Document
	var err error
	if e.Old != nil {
		if old, err = sjson.ToBSON(e.Old); err != nil {
			return nil, fmt.Errorf("changelog entry %d: old document: %w", e.Seq, err)
		}
	}
	if e.New != nil {
		if new, err = sjson.ToBSON(e.New); err != nil {
			return nil, fmt.Errorf("changelog entry %d: new document: %w", e.Seq, err)
		}
	}
	op := "insert"
	switch e.Op {
	case 'u':
		op = "update"
		if replaced != nil && replaced(e.DB, e.Coll, new) {
			op = "replace"
		}
	case 'd':
		op = "delete"
	}
	key := old
	if key == nil {
		key = new
	}
	id, err := key.LookupErr("_id")
	if err != nil {
		return nil, fmt.Errorf("changelog entry %d: document without _id", e.Seq)
	}
	b := bsoncore.NewDocumentBuilder().
		AppendDocument("_id", Token(Position{Seq: e.Seq, T: e.T, I: e.I})).
		AppendString("operationType", op).
		AppendTimestamp("clusterTime", e.T, e.I).
		AppendDateTime("wallTime", e.Wall.UnixMilli()).
		AppendDocument("ns", bsoncore.NewDocumentBuilder().AppendString("db", e.DB).AppendString("coll", e.Coll).Build()).
		AppendDocument("documentKey", bsoncore.BuildDocumentFromElements(nil, bsoncore.AppendValueElement(nil, "_id", id)))
	switch {
	case op == "insert" || op == "replace":
		b.AppendDocument("fullDocument", new)
	case op == "update" && o.FullDocument != "" && o.FullDocument != "default":
		// The post-image of this update (MongoDB's updateLookup reads the
		// document as it is when the event is returned).
		b.AppendDocument("fullDocument", new)
	}
	if op == "update" {
		updated, removed := diff(nil, old, new, "", nil)
		desc := bsoncore.NewDocumentBuilder().
			AppendDocument("updatedFields", bsoncore.BuildDocument(nil, updated)).
			AppendArray("removedFields", removedArray(removed)).
			AppendArray("truncatedArrays", bsoncore.NewArrayBuilder().Build())
		b.AppendDocument("updateDescription", desc.Build())
	}
	if old != nil && o.FullDocumentBeforeChange != "" && o.FullDocumentBeforeChange != "off" {
		b.AppendDocument("fullDocumentBeforeChange", old)
	}
	return b.Build(), nil
}

func removedArray(fields []string) bsoncore.Array {
	a := bsoncore.NewArrayBuilder()
	for _, f := range fields {
		a.AppendString(f)
	}
	return a.Build()
}

// diff appends to updated the fields of new that differ from old (as
// dotted paths into embedded documents present in both) and returns the
// paths of old's fields new lacks.
func diff(updated []byte, old, new bsoncore.Document, prefix string, removed []string) ([]byte, []string) {
	newElems, _ := new.Elements()
	for _, ne := range newElems {
		path := prefix + ne.Key()
		ov, err := old.LookupErr(ne.Key())
		nv := ne.Value()
		switch {
		case err != nil:
			updated = bsoncore.AppendValueElement(updated, path, nv)
		case ov.Type == bsoncore.TypeEmbeddedDocument && nv.Type == bsoncore.TypeEmbeddedDocument:
			if !bytes.Equal(ov.Data, nv.Data) {
				updated, removed = diff(updated, ov.Document(), nv.Document(), path+".", removed)
			}
		case ov.Type != nv.Type || !bytes.Equal(ov.Data, nv.Data):
			updated = bsoncore.AppendValueElement(updated, path, nv)
		}
	}
	oldElems, _ := old.Elements()
	for _, oe := range oldElems {
		if _, err := new.LookupErr(oe.Key()); err != nil {
			removed = append(removed, prefix+oe.Key())
		}
	}
	return updated, removed
}

// Pipeline is the stages after $changeStream.
type Pipeline []func(ev bsoncore.Document) (bsoncore.Document, bool)

// CompilePipeline compiles $match, $project (fields, inclusion or
// exclusion) and $unset stages; anything else is refused, naming it.
func CompilePipeline(stages []bsoncore.Document) (Pipeline, error) {
	var p Pipeline
	for _, st := range stages {
		e, err := st.IndexErr(0)
		if err != nil {
			return nil, fmt.Errorf("empty pipeline stage")
		}
		v := e.Value()
		switch e.Key() {
		case "$match":
			q, ok := v.DocumentOK()
			if !ok {
				return nil, fmt.Errorf("$match needs an object")
			}
			m, err := compileQuery(q)
			if err != nil {
				return nil, err
			}
			p = append(p, func(ev bsoncore.Document) (bsoncore.Document, bool) { return ev, m(ev) })
		case "$project":
			spec, ok := v.DocumentOK()
			if !ok {
				return nil, fmt.Errorf("$project needs an object")
			}
			f, err := compileProject(spec)
			if err != nil {
				return nil, err
			}
			p = append(p, f)
		case "$unset":
			var fields []string
			if s, ok := v.StringValueOK(); ok {
				fields = []string{s}
			} else if a, ok := v.ArrayOK(); ok {
				vals, _ := a.Values()
				for _, x := range vals {
					s, ok := x.StringValueOK()
					if !ok {
						return nil, fmt.Errorf("$unset needs field names")
					}
					fields = append(fields, s)
				}
			} else {
				return nil, fmt.Errorf("$unset needs a field name or an array of them")
			}
			keep := map[string]bool{}
			for _, f := range fields {
				if strings.Contains(f, ".") {
					return nil, fmt.Errorf("$unset of a dotted path (%s) is not supported by courier-mongo", f)
				}
				keep[f] = false
			}
			p = append(p, project(keep, false))
		default:
			return nil, fmt.Errorf("stage %s is not supported after $changeStream by courier-mongo ($match, $project, $unset are)", e.Key())
		}
	}
	return p, nil
}

func compileProject(spec bsoncore.Document) (func(bsoncore.Document) (bsoncore.Document, bool), error) {
	elems, _ := spec.Elements()
	fields := map[string]bool{}
	include := false
	for _, e := range elems {
		if strings.Contains(e.Key(), ".") {
			return nil, fmt.Errorf("$project of a dotted path (%s) is not supported by courier-mongo", e.Key())
		}
		v := e.Value()
		if _, isNum := number(v); !isNum && v.Type != bsoncore.TypeBoolean {
			return nil, fmt.Errorf("$project expressions (%s) are not supported by courier-mongo, only 0/1", e.Key())
		}
		on := truthy(v)
		fields[e.Key()] = on
		if on && e.Key() != "_id" {
			include = true
		}
	}
	return project(fields, include), nil
}

// project keeps the listed fields (include) or drops them; _id stays
// unless listed as 0.
func project(fields map[string]bool, include bool) func(bsoncore.Document) (bsoncore.Document, bool) {
	return func(ev bsoncore.Document) (bsoncore.Document, bool) {
		elems, _ := ev.Elements()
		var out []byte
		for _, e := range elems {
			on, listed := fields[e.Key()]
			keep := !listed || on
			if include {
				keep = on || (!listed && e.Key() == "_id")
			}
			if keep {
				out = append(out, e...)
			}
		}
		return bsoncore.BuildDocument(nil, out), true
	}
}
