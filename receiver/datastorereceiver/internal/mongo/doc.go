// Package mongo reads the health events NVSentinel inserts into MongoDB,
// through a change stream, and keeps resume tokens that NVSentinel's own
// event-exporter can read (and reads its tokens).
//
// # What NVSentinel writes
//
// Its platform connector inserts each event into nvsentinel.HealthEvents
// as {_id: ObjectId, createdAt: Date, healthevent: {…}, healtheventstatus:
// {…}}; a TTL index {createdAt: 1} is the collection's only index besides
// _id. Its exporter watches the collection with [{$match: {operationType:
// {$in: ["insert"]}}}] and stores ChangeStream.ResumeToken() with
// updateOne({clientName: "event-exporter"}, {$set: {resumeToken: …}},
// upsert) in ResumeTokens, resuming with ResumeAfter. It writes the
// stream's cursor position, which can be ahead of what was delivered.
//
// # The live stream
//
// The source watches the collection for inserts and returns each change
// event's fullDocument as a Row, whatever it holds (the decoder downstream
// counts and skips what is not a health event). A row's token is
// ChangeStream.ResumeToken() right after that event was read: the event's
// own token, or the batch's post-batch token when it is the last of its
// batch, which resumes after it too. The receiver saves the token of the
// last row of the contiguous delivered prefix, so a saved token never
// passes an undelivered event. Tokens are stored in NVSentinel's shape
// (see Token), with Courier's extras in a courier member NVSentinel does
// not read; each side continues from the other's token.
//
// # Tokens the server refuses
//
// When a resume token can no longer be used (ChangeStreamHistoryLost 286,
// ChangeStreamFatalError 280, CappedPositionLost 136, InvalidResumeToken
// 260, FailedToParse 9: the oplog has moved past it, or it is unreadable)
// the source logs an error, counts it in Stats.Recoveries and backfills
// from the last delivered event's createdAt less RecoveryMargin (courier.
// lastCreatedAt, or the token's own cluster time for a token of
// NVSentinel's), then continues live: duplicates, never a gap. NVSentinel
// deletes such a token and starts from now.
//
// # The backfill
//
// With no token and backfill enabled, the source first exports history.
// It opens the change stream first and keeps its initial post-batch
// resume token as the handover, then reads Until, the newest createdAt
// present: every document inserted before the handover has createdAt ≤
// Until, and every one inserted after it comes through the stream. The
// backfill returns the documents with createdAt from now − MaxAge to
// Until, the newest MaxEvents of them, oldest first in (createdAt, _id)
// order, in keyset-paginated pages of BatchSize, rate-limited; then the
// stream continues from the handover. Only documents inserted between the
// handover and the Until query (or written with a clock behind the
// server's) are read by both; the stream skips those whose _id the
// backfill returned lately (a bounded set of the last 10,000 ids created
// within RecoveryMargin of the handover, dropped once the stream passes
// the handover by RecoveryMargin), so duplicates are left only beyond
// that bound.
//
// The index on createdAt alone cannot sort by (createdAt, _id) without a
// blocking sort of the whole range, so a page is read in two index-served
// steps: the rest of the current createdAt group by _id, then the next
// documents by createdAt; a group the page limit cuts in two is left
// whole for the next page, which reads it by _id.
//
// Every backfill row's token is the handover token plus the backfill's
// position after that row (courier.backfill); the start is saved at once.
// A source opened on such a token continues the backfill after that row;
// NVSentinel, which reads resumeToken only, continues live from the
// handover. Documents without a date createdAt are not found by the
// backfill (the stream returns them).
//
// # Starting without a token
//
// Without a token and without backfill the source starts from now, as
// NVSentinel does, but saves the stream's start at once, so that a crash
// before the first delivery does not move "now" on.
//
// # Servers without change streams
//
// A standalone mongod answers $changeStream with code 40573 (FerretDB with
// NotImplemented): Open fails with ErrNoChangeStreams, which says that a
// replica set is needed.
//
// # Leader election
//
// Leader keeps a lease document in the token collection, {_id:
// "courier-lease/<clientName>", holder, version}, renewed every
// RenewInterval by a compare-and-swap on (holder, version). A standby
// takes it over once it has seen it unchanged for LeaseDuration on its
// own clock; the holder gives up once LeaseDuration − RenewInterval has
// passed since its last successful renewal began, before any standby can
// take over. Release frees it at once.
package mongo
