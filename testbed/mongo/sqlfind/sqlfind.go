// Package sqlfind answers, with SQL over an expression index, the sorted
// range finds on one date field that Courier's datastore receiver sends
// for its keyset-paginated backfill. FerretDB v1 answers them by reading
// every matching document and sorting in memory (it pushes down neither
// the sort nor the range), so each page of a backfill costs the whole
// history. Only shapes whose answer is exactly FerretDB's are taken;
// anything else is left to FerretDB.
//
// Taken: find on a collection with
//   - filter {F: <date>} or {F: {$gt|$gte|$lt|$lte: <date>, …}} or
//     {F: {$type: "date"}}, F a plain top-level field, optionally with
//     _id: {$gt|$gte|$lt|$lte: <ObjectId or string>} when F is an equality;
//   - sort {F: ±1} or {_id: ±1} (the latter only with F an equality);
//   - an inclusion projection of top-level fields, or none;
//   - skip, and a limit that fits the first batch (no cursor is opened).
//
// Date filters and sorts only see dates in MongoDB, except that an array
// of dates matches element-wise: a collection where F holds an array
// anywhere is left to FerretDB (a partial index makes that check free).
package sqlfind

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/courier-otel/courier/testbed/mongo/changelog"
	"github.com/courier-otel/courier/testbed/mongo/sjson"
)

// maxReply bounds the documents of one answer: a larger one is left to
// FerretDB, which answers with a cursor (MongoDB's limit is 16 MiB).
const maxReply = 16<<20 - 64<<10

// Finder answers the finds it recognises; it owns a connection pool.
type Finder struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	indexed map[string]bool  // "schema.table.field" whose indexes exist
	tables  map[string]table // "db.coll" → its table

	docSize atomic.Int64 // the last answer's document size, to size the next
}

// table is a collection's PostgreSQL table.
type table struct {
	name string
	text string // the SQL of its documents as text, %s the table's qualifier
}

// Open connects to FerretDB's PostgreSQL database.
func Open(ctx context.Context, dsn string) (*Finder, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlfind: %w", err)
	}
	// The pool only runs these reads, which must walk the index in key
	// order and stop at the limit: without statistics on the expression
	// (a table just filled) the planner takes a range to be small and
	// sorts all of it, which is the whole history for a backfill page.
	for _, p := range []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"} {
		cfg.ConnConfig.RuntimeParams[p] = "off"
	}
	// A page of documents is ~1 MB of rows, which pgx reads 8 KiB at a
	// time: one read takes what has arrived.
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &bufConn{Conn: c, r: bufio.NewReaderSize(c, 256<<10)}, nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlfind: connect: %w", err)
	}
	return &Finder{pool: pool, indexed: map[string]bool{}, tables: map[string]table{}}, nil
}

// bufConn reads its connection through a buffer.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Close closes the pool.
func (f *Finder) Close() { f.pool.Close() }

// query is a recognised find.
type query struct {
	db, coll string
	field    string
	eq       *int64         // F == eq (ms)
	lo, hi   *int64         // range bounds (ms)
	loIncl   bool           // lo is $gte
	hiIncl   bool           // hi is $lte
	idOp     string         // "", ">", ">=", "<", "<="
	id       bsoncore.Value // the _id bound
	sortID   bool           // sort on _id, else on F
	desc     bool           // descending
	skip     int64
	limit    int64
	project  map[string]bool // included fields; nil is the whole document
	noID     bool            // _id: 0 in the projection
}

var plainField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// recognise returns the query a find command is, or false.
func recognise(body bsoncore.Document) (q query, ok bool) {
	elems, err := body.Elements()
	if err != nil {
		return q, false
	}
	var filter, srt, proj bsoncore.Document
	var batch int64 = -1
	single := false
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "find":
			if q.coll, ok = v.StringValueOK(); !ok {
				return q, false
			}
		case "$db":
			if q.db, ok = v.StringValueOK(); !ok {
				return q, false
			}
		case "filter":
			if filter, ok = v.DocumentOK(); !ok {
				return q, false
			}
		case "sort":
			if srt, ok = v.DocumentOK(); !ok {
				return q, false
			}
		case "projection":
			if proj, ok = v.DocumentOK(); !ok {
				return q, false
			}
		case "skip":
			if q.skip, ok = v.AsInt64OK(); !ok || q.skip < 0 {
				return q, false
			}
		case "limit":
			if q.limit, ok = v.AsInt64OK(); !ok {
				return q, false
			}
			if q.limit < 0 {
				q.limit, single = -q.limit, true
			}
		case "batchSize":
			if batch, ok = v.AsInt64OK(); !ok || batch < 0 {
				return q, false
			}
		case "singleBatch":
			single = v.Type == bsoncore.TypeBoolean && v.Boolean()
		case "lsid", "$clusterTime", "$readPreference", "readConcern", "maxTimeMS", "comment":
			// Sessions, gossip and read concern mean nothing more on one
			// member; the time limit is not needed for an indexed read.
		default:
			return q, false
		}
	}
	if q.coll == "" || q.db == "" || q.limit <= 0 || srt == nil || filter == nil {
		return q, false
	}
	// The whole answer must fit the first batch: no cursor is opened.
	if !single && batch >= 0 && batch < q.limit {
		return q, false
	}
	if !parseFilter(filter, &q) || !parseSort(srt, &q) || !parseProjection(proj, &q) {
		return q, false
	}
	return q, true
}

func parseFilter(filter bsoncore.Document, q *query) bool {
	elems, err := filter.Elements()
	if err != nil || len(elems) == 0 || len(elems) > 2 {
		return false
	}
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		if k == "_id" {
			d, ok := v.DocumentOK()
			if !ok || q.idOp != "" {
				return false
			}
			ops, err := d.Elements()
			if err != nil || len(ops) != 1 {
				return false
			}
			op, ok := cmpOps[ops[0].Key()]
			id := ops[0].Value()
			if !ok || (id.Type != bsoncore.TypeObjectID && id.Type != bsoncore.TypeString) {
				return false
			}
			q.idOp, q.id = op, id
			continue
		}
		if !plainField.MatchString(k) || q.field != "" {
			return false
		}
		q.field = k
		if ms, ok := v.DateTimeOK(); ok {
			q.eq = &ms
			continue
		}
		d, ok := v.DocumentOK()
		if !ok {
			return false
		}
		ops, err := d.Elements()
		if err != nil || len(ops) == 0 {
			return false
		}
		for _, o := range ops {
			if o.Key() == "$type" {
				// {$type: "date"} alone: every date.
				if s, ok := o.Value().StringValueOK(); !ok || s != "date" || len(ops) != 1 {
					return false
				}
				continue
			}
			ms, ok := o.Value().DateTimeOK()
			if !ok {
				return false
			}
			switch o.Key() {
			case "$gt", "$gte":
				if q.lo != nil {
					return false
				}
				q.lo, q.loIncl = &ms, o.Key() == "$gte"
			case "$lt", "$lte":
				if q.hi != nil {
					return false
				}
				q.hi, q.hiIncl = &ms, o.Key() == "$lte"
			default:
				return false
			}
		}
	}
	// An _id bound only with an equality on F (a group read by _id).
	return q.field != "" && (q.idOp == "" || q.eq != nil)
}

var cmpOps = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

func parseSort(srt bsoncore.Document, q *query) bool {
	elems, err := srt.Elements()
	if err != nil || len(elems) != 1 {
		return false
	}
	dir, ok := elems[0].Value().AsInt64OK()
	if !ok || (dir != 1 && dir != -1) {
		return false
	}
	q.desc = dir == -1
	switch elems[0].Key() {
	case q.field:
	case "_id":
		// Ties on F are ordered by _id only within one value of F.
		q.sortID = true
		return q.eq != nil
	default:
		return false
	}
	return true
}

func parseProjection(proj bsoncore.Document, q *query) bool {
	if proj == nil {
		return true
	}
	elems, err := proj.Elements()
	if err != nil {
		return false
	}
	if len(elems) == 0 {
		return true
	}
	q.project = map[string]bool{}
	for _, e := range elems {
		k := e.Key()
		on, ok := truth(e.Value())
		if !ok || !plainField.MatchString(k) {
			return false
		}
		if k == "_id" {
			q.noID = !on
			continue
		}
		if !on {
			return false // exclusion projections are FerretDB's
		}
		q.project[k] = true
	}
	if len(q.project) == 0 && q.noID {
		return false // {_id: 0} alone is an exclusion
	}
	return true
}

func truth(v bsoncore.Value) (bool, bool) {
	if b, ok := v.BooleanOK(); ok {
		return b, true
	}
	if n, ok := v.AsInt64OK(); ok {
		return n != 0, true
	}
	return false, false
}

// Find answers body when it is a recognised find: the reply document, or
// ok false to leave it to FerretDB.
func (f *Finder) Find(ctx context.Context, body bsoncore.Document) (reply bsoncore.Document, ok bool, err error) {
	q, ok := recognise(body)
	if !ok {
		return nil, false, nil
	}
	t, ok, err := f.table(ctx, q.db, q.coll)
	if err != nil || !ok {
		return nil, false, err // no collection: FerretDB's answer
	}
	if err := f.ensureIndexes(ctx, q.db, t.name, q.field); err != nil {
		return nil, false, err
	}
	tbl := pgx.Identifier{q.db, t.name}.Sanitize()
	reply, ok, err = f.read(ctx, q, tbl, t.text)
	if err != nil {
		f.forget(q.db, q.coll) // the collection may have been dropped
	}
	if err != nil || !ok {
		return nil, false, err
	}
	return reply, true, nil
}

// key is the index expression: F in milliseconds when it is a date, else
// NULL (the CASE keeps the cast from ever seeing another type).
func key(field string) string {
	return fmt.Sprintf(`(CASE WHEN _jsonb->'$s'->'p'->'%[1]s'->>'t' = 'date' THEN (_jsonb->>'%[1]s')::bigint END)`, field)
}

// oddPred matches the documents where F is an array.
func oddPred(field string) string {
	return fmt.Sprintf(`_jsonb->'$s'->'p'->'%s'->>'t' = 'array'`, field)
}

// idType and idText are _id's stored type and its value as text
// (ObjectId's lowercase hex, whose byte order is the ObjectId's).
const (
	idType = `_jsonb->'$s'->'p'->'_id'->>'t'`
	idText = `(_jsonb->>'_id') COLLATE "C"`
)

// where is the query's filter in SQL, with its arguments.
func (q query) where() (string, []any) {
	k := key(q.field)
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q.eq != nil {
		where = append(where, k+" = "+arg(*q.eq))
	} else {
		where = append(where, k+" IS NOT NULL")
	}
	if q.lo != nil {
		where = append(where, k+map[bool]string{true: " >= ", false: " > "}[q.loIncl]+arg(*q.lo))
	}
	if q.hi != nil {
		where = append(where, k+map[bool]string{true: " <= ", false: " < "}[q.hiIncl]+arg(*q.hi))
	}
	if q.idOp != "" {
		// A bound of one type matches that type only (type bracketing),
		// whose order is the text's byte order.
		t, v := "string", q.id.StringValue
		if q.id.Type == bsoncore.TypeObjectID {
			t, v = "objectId", func() string { o := q.id.ObjectID(); return hex.EncodeToString(o[:]) }
		}
		where = append(where, idType+" = "+arg(t), idText+" "+q.idOp+" "+arg(v()))
	}
	return strings.Join(where, " AND "), args
}

// read runs the query and returns the reply; ok is false when the answer
// is left to FerretDB. text is table.text.
func (f *Finder) read(ctx context.Context, q query, tbl, text string) (reply bsoncore.Document, ok bool, err error) {
	k := key(q.field)
	where, args := q.where()
	dir := map[bool]string{true: " DESC", false: ""}[q.desc]
	var order string
	inGo := false // the whole group is read and ordered here
	switch {
	case !q.sortID:
		order = k + dir
	case q.idOp != "":
		order = idText + dir
	default:
		inGo = true // _ids of several types may share the group
	}
	sql := `SELECT ` + fmt.Sprintf(text, "") + ` FROM ` + tbl + ` WHERE ` + where
	switch {
	case inGo:
	case q.skip > 0:
		// The skipped rows are walked in the index without reading their
		// documents: only the page's are read.
		sql = `SELECT ` + fmt.Sprintf(text, "t.") + ` FROM unnest(ARRAY(SELECT ctid FROM ` + tbl + ` WHERE ` + where + ` ORDER BY ` + order +
			fmt.Sprintf(` OFFSET %d LIMIT %d`, q.skip, q.limit) + `)) WITH ORDINALITY AS x(id, n) JOIN ` + tbl + ` t ON t.ctid = x.id ORDER BY x.n`
	default:
		sql += ` ORDER BY ` + order + fmt.Sprintf(` LIMIT %d`, q.limit)
	}
	// Whether F is an array anywhere, and the read, in one round trip.
	var batch pgx.Batch
	batch.Queue(`SELECT EXISTS (SELECT 1 FROM ` + tbl + ` WHERE ` + oddPred(q.field) + `)`)
	batch.Queue(sql, args...)
	br := f.pool.SendBatch(ctx, &batch)
	defer func() {
		if e := br.Close(); err == nil && e != nil {
			reply, ok, err = nil, false, e
		}
	}()
	var odd bool
	if err := br.QueryRow().Scan(&odd); err != nil {
		return nil, false, err
	}
	if odd {
		return nil, false, nil // F holds an array somewhere: element-wise matching
	}
	rows, err := br.Query()
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	// Sized for the page at once: growing it would copy it several times.
	r := newReply(q, int(min(q.limit, 1000)*max(f.docSize.Load(), 512)))
	var docs []bsoncore.Document
	for rows.Next() {
		raw := rows.RawValues()[0] // valid until the next row: decoded now
		if inGo {
			d, err := sjson.ToBSON(raw)
			if err != nil {
				return nil, false, err
			}
			docs = append(docs, d)
			continue
		}
		if err := r.add(q, raw); err != nil {
			return nil, false, err
		}
		if r.size() > maxReply {
			return nil, false, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if inGo {
		if docs, ok = sortByID(docs, q.desc); !ok {
			return nil, false, nil
		}
		docs = docs[min(int64(len(docs)), q.skip):]
		docs = docs[:min(int64(len(docs)), q.limit)]
		for _, d := range docs {
			r.addDoc(q.apply(d))
			if r.size() > maxReply {
				return nil, false, nil
			}
		}
	}
	if r.n > 0 && q.project == nil && !q.noID {
		f.docSize.Store(int64(r.size() / r.n)) // whole documents: a page's
	}
	return r.end(), true, nil
}

// sortByID orders documents by _id as MongoDB does when every _id is a
// string or an ObjectId (strings sort before ObjectIds); false otherwise.
func sortByID(docs []bsoncore.Document, desc bool) ([]bsoncore.Document, bool) {
	ids := make([]bsoncore.Value, len(docs))
	for i, d := range docs {
		v, err := d.LookupErr("_id")
		if err != nil || (v.Type != bsoncore.TypeString && v.Type != bsoncore.TypeObjectID) {
			return nil, false
		}
		ids[i] = v
	}
	idx := make([]int, len(docs))
	for i := range idx {
		idx[i] = i
	}
	less := func(a, b bsoncore.Value) bool {
		if a.Type != b.Type {
			return a.Type == bsoncore.TypeString
		}
		if a.Type == bsoncore.TypeString {
			return a.StringValue() < b.StringValue()
		}
		x, y := a.ObjectID(), b.ObjectID()
		return string(x[:]) < string(y[:])
	}
	sort.SliceStable(idx, func(i, j int) bool {
		if desc {
			return less(ids[idx[j]], ids[idx[i]])
		}
		return less(ids[idx[i]], ids[idx[j]])
	})
	out := make([]bsoncore.Document, len(docs))
	for i, j := range idx {
		out[i] = docs[j]
	}
	return out, true
}

// apply projects a document.
func (q query) apply(d bsoncore.Document) bsoncore.Document {
	if q.project == nil && !q.noID {
		return d
	}
	elems, _ := d.Elements()
	idx, out := bsoncore.AppendDocumentStart(nil)
	for _, e := range elems {
		k := e.Key()
		if (k == "_id" && !q.noID) || q.project[k] {
			out = bsoncore.AppendValueElement(out, k, e.Value())
		}
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// replyBuilder writes a find's reply, {cursor: {firstBatch: [...], id: 0,
// ns}, ok: 1}, into one buffer as the documents come: each is converted
// from its text straight into the array, not copied there afterwards.
type replyBuilder struct {
	buf                []byte
	doc, cursor, batch int32 // where their lengths go
	first              int   // the first document's offset
	n                  int
	ns                 string
}

func newReply(q query, size int) *replyBuilder {
	r := &replyBuilder{ns: q.db + "." + q.coll}
	r.doc, r.buf = bsoncore.AppendDocumentStart(make([]byte, 0, min(size, maxReply)+256))
	r.cursor, r.buf = bsoncore.AppendDocumentElementStart(r.buf, "cursor")
	r.batch, r.buf = bsoncore.AppendArrayElementStart(r.buf, "firstBatch")
	r.first = len(r.buf)
	return r
}

// add appends a stored document (its text), projected.
func (r *replyBuilder) add(q query, text []byte) error {
	if q.project != nil || q.noID {
		d, err := sjson.ToBSON(text)
		if err != nil {
			return err
		}
		r.addDoc(q.apply(d))
		return nil
	}
	r.buf = bsoncore.AppendHeader(r.buf, bsoncore.TypeEmbeddedDocument, strconv.Itoa(r.n))
	buf, err := sjson.AppendBSON(r.buf, text)
	if err != nil {
		return err
	}
	r.buf = buf
	r.n++
	return nil
}

func (r *replyBuilder) addDoc(d bsoncore.Document) {
	r.buf = bsoncore.AppendDocumentElement(r.buf, strconv.Itoa(r.n), d)
	r.n++
}

// size is the size of the documents so far.
func (r *replyBuilder) size() int { return len(r.buf) - r.first }

func (r *replyBuilder) end() bsoncore.Document {
	r.buf, _ = bsoncore.AppendArrayEnd(r.buf, r.batch)
	r.buf = bsoncore.AppendInt64Element(r.buf, "id", 0)
	r.buf = bsoncore.AppendStringElement(r.buf, "ns", r.ns)
	r.buf, _ = bsoncore.AppendDocumentEnd(r.buf, r.cursor)
	r.buf = bsoncore.AppendDoubleElement(r.buf, "ok", 1)
	r.buf, _ = bsoncore.AppendDocumentEnd(r.buf, r.doc)
	return r.buf
}

func reply1(q query, docs []bsoncore.Document) bsoncore.Document {
	r := newReply(q, 256)
	for _, d := range docs {
		r.addDoc(d)
	}
	return r.end()
}

// forget drops a collection's cached table and indexes.
func (f *Finder) forget(db, coll string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.tables[db+"."+coll]; ok {
		delete(f.tables, db+"."+coll)
		for k := range f.indexed {
			if strings.HasPrefix(k, db+"."+t.name+".") {
				delete(f.indexed, k)
			}
		}
	}
}

// table returns the PostgreSQL table of a collection. A collection keeps
// its table until dropped, when a query on it fails and forget runs.
func (f *Finder) table(ctx context.Context, db, coll string) (table, bool, error) {
	f.mu.Lock()
	t, ok := f.tables[db+"."+coll]
	f.mu.Unlock()
	if ok {
		return t, true, nil
	}
	t, ok, err := f.lookupTable(ctx, db, coll)
	if ok {
		f.mu.Lock()
		if len(f.tables) >= maxTables {
			clear(f.tables)
		}
		f.tables[db+"."+coll] = t
		f.mu.Unlock()
	}
	return t, ok, err
}

// maxTables bounds the cache of tables.
const maxTables = 10_000

func (f *Finder) lookupTable(ctx context.Context, db, coll string) (table, bool, error) {
	var t table
	err := f.pool.QueryRow(ctx, `SELECT _jsonb->>'table' FROM `+pgx.Identifier{db, "_ferretdb_database_metadata"}.Sanitize()+
		` WHERE _jsonb->>'_id' = $1`, coll).Scan(&t.name)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		var exists bool
		if e2 := f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, db).Scan(&exists); e2 == nil && !exists {
			return t, false, nil // no database yet
		}
		return t, false, err
	}
	// The changelog's setup gives every collection table the documents as
	// text (changelog.TextColumn); a database it has not set up gets them
	// converted from jsonb on each read.
	var stored bool
	if err := f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped)`,
		pgx.Identifier{db, t.name}.Sanitize(), changelog.TextColumn).Scan(&stored); err != nil {
		return t, false, err
	}
	t.text = `%s_jsonb::text`
	if stored {
		t.text = `%s` + changelog.TextColumn
	}
	return t, true, nil
}

// CreateIndexes builds the indexes of the fields that a createIndexes
// command (already answered by FerretDB) indexes alone, ascending or
// descending: the indexes a find on such a field needs, built when the
// collection's index is, not on its first find.
func (f *Finder) CreateIndexes(ctx context.Context, body bsoncore.Document) error {
	coll, ok := body.Lookup("createIndexes").StringValueOK()
	db, ok2 := body.Lookup("$db").StringValueOK()
	indexes, ok3 := body.Lookup("indexes").ArrayOK()
	if !ok || !ok2 || !ok3 {
		return nil
	}
	vals, err := indexes.Values()
	if err != nil {
		return nil
	}
	for _, v := range vals {
		idx, ok := v.DocumentOK()
		if !ok {
			continue
		}
		key, ok := idx.Lookup("key").DocumentOK()
		if !ok {
			continue
		}
		keys, err := key.Elements()
		if err != nil || len(keys) != 1 {
			continue
		}
		field := keys[0].Key()
		dir, ok := keys[0].Value().AsInt64OK()
		if !ok || (dir != 1 && dir != -1) || field == "_id" || !plainField.MatchString(field) {
			continue
		}
		t, ok, err := f.table(ctx, db, coll)
		if err != nil || !ok {
			return err // no collection: FerretDB refused
		}
		if err := f.ensureIndexes(ctx, db, t.name, field); err != nil {
			return err
		}
	}
	return nil
}

// ensureIndexes creates, once, the index on F's date value and the
// partial index of the documents where F is an array.
func (f *Finder) ensureIndexes(ctx context.Context, schema, table, field string) error {
	name := schema + "." + table + "." + field
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.indexed[name] {
		return nil
	}
	tbl := pgx.Identifier{schema, table}.Sanitize()
	base := table + "_courier_" + field
	if len(base) > 50 {
		base = base[:50]
	}
	for _, s := range []string{
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{base}.Sanitize() + ` ON ` + tbl + ` (` + key(field) + `)`,
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{base + "_arr"}.Sanitize() + ` ON ` + tbl + ` ((1)) WHERE ` + oddPred(field),
	} {
		if _, err := f.pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("sqlfind: index %s: %w", name, err)
		}
	}
	f.indexed[name] = true
	return nil
}
