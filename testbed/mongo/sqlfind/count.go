package sqlfind

import (
	"context"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Count answers the aggregate the drivers' CountDocuments sends,
// [{$match: <a filter find takes>}, {$group: {_id: 1, n: {$sum: 1}}}],
// with SQL count over the same index; ok false leaves it to FerretDB
// (which would read every matching document).
func (f *Finder) Count(ctx context.Context, body bsoncore.Document) (reply bsoncore.Document, ok bool, err error) {
	q, ok := recogniseCount(body)
	if !ok {
		return nil, false, nil
	}
	t, ok, err := f.table(ctx, q.db, q.coll)
	if err != nil || !ok {
		return nil, false, err
	}
	if err := f.ensureIndexes(ctx, q.db, t.name, q.field); err != nil {
		return nil, false, err
	}
	tbl := pgx.Identifier{q.db, t.name}.Sanitize()
	var odd bool
	if err := f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+tbl+` WHERE `+oddPred(q.field)+`)`).Scan(&odd); err != nil {
		f.forget(q.db, q.coll)
		return nil, false, err
	}
	if odd {
		return nil, false, nil
	}
	where, args := q.where()
	var n int64
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM `+tbl+` WHERE `+where, args...).Scan(&n); err != nil {
		f.forget(q.db, q.coll)
		return nil, false, err
	}
	var docs []bsoncore.Document
	if n > 0 {
		// $sum of 1s is an int while it fits, as MongoDB gives it.
		b := bsoncore.NewDocumentBuilder().AppendInt32("_id", 1)
		if n <= 1<<31-1 {
			b.AppendInt32("n", int32(n))
		} else {
			b.AppendInt64("n", n)
		}
		docs = append(docs, b.Build())
	}
	return reply1(q, docs), true, nil
}

func recogniseCount(body bsoncore.Document) (q query, ok bool) {
	elems, err := body.Elements()
	if err != nil {
		return q, false
	}
	var pipeline bsoncore.Array
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "aggregate":
			if q.coll, ok = v.StringValueOK(); !ok {
				return q, false
			}
		case "$db":
			if q.db, ok = v.StringValueOK(); !ok {
				return q, false
			}
		case "pipeline":
			if pipeline, ok = v.ArrayOK(); !ok {
				return q, false
			}
		case "cursor":
			// One document at most: any batch size holds it, but 0.
			c, ok := v.DocumentOK()
			if !ok {
				return q, false
			}
			if bs, err := c.LookupErr("batchSize"); err == nil {
				if n, ok := bs.AsInt64OK(); !ok || n < 1 {
					return q, false
				}
			}
		case "lsid", "$clusterTime", "$readPreference", "readConcern", "maxTimeMS", "comment":
		default:
			return q, false
		}
	}
	stages, err := pipeline.Values()
	if err != nil || len(stages) != 2 || q.coll == "" || q.db == "" {
		return q, false
	}
	match, ok := stages[0].DocumentOK()
	if !ok {
		return q, false
	}
	filter, ok := match.Lookup("$match").DocumentOK()
	if !ok || len(mustElems(match)) != 1 || !parseFilter(filter, &q) {
		return q, false
	}
	group, ok := stages[1].DocumentOK()
	if !ok {
		return q, false
	}
	want := bsoncore.NewDocumentBuilder().AppendDocument("$group", bsoncore.NewDocumentBuilder().
		AppendInt32("_id", 1).AppendDocument("n", bsoncore.NewDocumentBuilder().AppendInt32("$sum", 1).Build()).Build()).Build()
	return q, string(group) == string(want)
}

func mustElems(d bsoncore.Document) []bsoncore.Element {
	e, _ := d.Elements()
	return e
}
