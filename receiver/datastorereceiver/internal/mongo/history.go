package mongo

import (
	"bytes"
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// collHistory is history over the HealthEvents collection.
type collHistory struct {
	coll *mongo.Collection
}

const fieldCreatedAt = "createdAt"

func (h collHistory) group(ctx context.Context, at time.Time, after bson.RawValue, limit int) ([]doc, error) {
	filter := bson.D{{Key: fieldCreatedAt, Value: at}}
	if after.Type != 0 {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	return h.find(ctx, filter, bson.D{{Key: "_id", Value: 1}}, limit)
}

func (h collHistory) span(ctx context.Context, from time.Time, inclusive bool, until time.Time, limit int) ([]doc, error) {
	op := "$gt"
	if inclusive {
		op = "$gte"
	}
	filter := bson.D{{Key: fieldCreatedAt, Value: bson.D{{Key: op, Value: from}, {Key: "$lte", Value: until}}}}
	return h.find(ctx, filter, bson.D{{Key: fieldCreatedAt, Value: 1}}, limit)
}

func (h collHistory) find(ctx context.Context, filter, sort bson.D, limit int) ([]doc, error) {
	cur, err := h.coll.Find(ctx, filter, options.Find().SetSort(sort).SetLimit(int64(limit)).SetBatchSize(int32(min(limit, 10_000))))
	if err != nil {
		return nil, err
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	docs := make([]doc, 0, limit)
	for cur.Next(ctx) {
		raw := bson.Raw(bytes.Clone(cur.Current))
		id, err := raw.LookupErr("_id")
		if err != nil {
			return nil, errors.New("document without _id")
		}
		created, ok := raw.Lookup(fieldCreatedAt).TimeOK()
		if !ok {
			// The query only matches dates; a malformed document would be
			// a server bug.
			return nil, errors.New("document " + idString(id) + ": createdAt is not a date")
		}
		docs = append(docs, doc{id: id, createdAt: created.UTC(), raw: raw})
	}
	return docs, cur.Err()
}

func (h collHistory) newest(ctx context.Context, from, until time.Time, skip int64) (time.Time, bool, error) {
	rng := bson.D{}
	if !from.IsZero() {
		rng = append(rng, bson.E{Key: "$gte", Value: from})
	}
	if !until.IsZero() {
		rng = append(rng, bson.E{Key: "$lte", Value: until})
	}
	if len(rng) == 0 {
		// Only dates: a missing or odd createdAt must not count.
		rng = bson.D{{Key: "$type", Value: "date"}}
	}
	raw, err := h.coll.FindOne(ctx, bson.D{{Key: fieldCreatedAt, Value: rng}}, options.FindOne().
		SetSort(bson.D{{Key: fieldCreatedAt, Value: -1}}).
		SetSkip(skip).
		SetProjection(bson.D{{Key: fieldCreatedAt, Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	t, ok := raw.Lookup(fieldCreatedAt).TimeOK()
	if !ok {
		return time.Time{}, false, errors.New("newest document: createdAt is not a date")
	}
	return t.UTC(), true, nil
}

func (h collHistory) countAfter(ctx context.Context, after, until time.Time) (int64, error) {
	return h.coll.CountDocuments(ctx, bson.D{{Key: fieldCreatedAt, Value: bson.D{{Key: "$gt", Value: after}, {Key: "$lte", Value: until}}}})
}

func (h collHistory) groupNth(ctx context.Context, at time.Time, skip int64) (bson.RawValue, bool, error) {
	raw, err := h.coll.FindOne(ctx, bson.D{{Key: fieldCreatedAt, Value: at}}, options.FindOne().
		SetSort(bson.D{{Key: "_id", Value: -1}}).
		SetSkip(skip).
		SetProjection(bson.D{{Key: "_id", Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return bson.RawValue{}, false, nil
	}
	if err != nil {
		return bson.RawValue{}, false, err
	}
	id, err := raw.LookupErr("_id")
	if err != nil {
		return bson.RawValue{}, false, errors.New("document without _id")
	}
	return bson.RawValue{Type: id.Type, Value: bytes.Clone(id.Value)}, true, nil
}
