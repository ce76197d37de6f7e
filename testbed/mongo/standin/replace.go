package standin

import (
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/courier-otel/courier/testbed/mongo/wire"
)

// maxReplacements bounds the replacements remembered until their change
// event is read.
const maxReplacements = 10_000

// replacements tells replace events from update events. FerretDB stores
// both as an UPDATE of the whole document, so the changelog cannot; the
// proxy sees which one the client sent. It remembers the content (without
// _id) of each replacement document per namespace, and an update whose new
// document has that content is a replace. Lost on a restart (the event is
// then an update with the whole document in updatedFields).
type replacements struct {
	mu      sync.Mutex
	pending map[string]int
	n       int
}

func newReplacements() *replacements { return &replacements{pending: map[string]int{}} }

func replacementKey(db, coll string, doc bsoncore.Document) string {
	var b strings.Builder
	b.WriteString(db)
	b.WriteByte(0)
	b.WriteString(coll)
	b.WriteByte(0)
	elems, _ := doc.Elements()
	for _, e := range elems {
		if e.Key() != "_id" {
			b.Write(e)
		}
	}
	return b.String()
}

// note records the replacements of an update or findAndModify command.
func (r *replacements) note(body bsoncore.Document, seqs []wire.Sequence) {
	db, _ := body.Lookup("$db").StringValueOK()
	var docs []bsoncore.Document
	if coll, ok := body.Lookup("update").StringValueOK(); ok {
		if arr, ok := body.Lookup("updates").ArrayOK(); ok {
			vals, _ := arr.Values()
			for _, v := range vals {
				if d, ok := v.DocumentOK(); ok {
					docs = append(docs, d)
				}
			}
		}
		for _, s := range seqs {
			if s.Identifier == "updates" {
				docs = append(docs, s.Docs...)
			}
		}
		for _, d := range docs {
			r.add(db, coll, d.Lookup("u"))
		}
		return
	}
	if coll, ok := body.Lookup("findAndModify").StringValueOK(); ok {
		if rm, _ := body.Lookup("remove").BooleanOK(); !rm {
			r.add(db, coll, body.Lookup("update"))
		}
	}
}

func (r *replacements) add(db, coll string, u bsoncore.Value) {
	d, ok := u.DocumentOK()
	if !ok {
		return // a pipeline update
	}
	first, err := d.IndexErr(0)
	if err == nil && strings.HasPrefix(first.Key(), "$") {
		return // update operators
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n >= maxReplacements {
		clear(r.pending)
		r.n = 0
	}
	r.pending[replacementKey(db, coll, d)]++
	r.n++
}

// take reports whether new is the result of a remembered replacement,
// and forgets it.
func (r *replacements) take(db, coll string, new bsoncore.Document) bool {
	key := replacementKey(db, coll, new)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[key] == 0 {
		return false
	}
	r.pending[key]--
	r.n--
	if r.pending[key] == 0 {
		delete(r.pending, key)
	}
	return true
}
