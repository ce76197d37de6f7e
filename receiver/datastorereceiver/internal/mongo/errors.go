package mongo

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// ErrDisconnected marks errors after which the change stream or the
// connection is gone. Next reopens the stream on its next call, from the
// position of the last row it returned.
var ErrDisconnected = errors.New("mongodb connection or change stream lost")

// ErrNoChangeStreams is returned by Open when the server cannot serve
// change streams: a standalone mongod (or a server that only speaks the
// protocol, such as FerretDB). Retrying does not help.
var ErrNoChangeStreams = errors.New("MongoDB change streams are not available: a replica set (or a sharded cluster) is needed, a standalone server has none")

// Server error codes this package reacts to.
const (
	codeFailedToParse           = 9
	codeCappedPositionLost      = 136
	codeNotImplemented          = 238
	codeInvalidResumeToken      = 260
	codeChangeStreamFatalError  = 280
	codeChangeStreamHistoryLost = 286
	codeStandalone              = 40573 // "The $changeStream stage is only supported on replica sets"
	codeDuplicateKey            = 11000
)

// unusableTokenCodes are the answers to a resume token that can no longer
// be used: the oplog no longer reaches back to it (286; 280 or 136 on older
// servers) or the server cannot read it (260, 9). NVSentinel's watcher
// reacts to the same codes, by deleting its token and starting from now;
// Courier backfills from the last delivered event's createdAt instead.
var unusableTokenCodes = []int{
	codeChangeStreamHistoryLost,
	codeChangeStreamFatalError,
	codeCappedPositionLost,
	codeInvalidResumeToken,
	codeFailedToParse,
}

// unusableToken reports whether err says that the resume token cannot be
// resumed from, and with which code.
func unusableToken(err error) (code int, ok bool) {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return 0, false
	}
	for _, c := range unusableTokenCodes {
		if se.HasErrorCode(c) {
			return c, true
		}
	}
	return 0, false
}

// noChangeStreams reports whether err is a server's refusal to open a
// change stream at all: a standalone mongod (40573, or its message), or a
// server that does not implement $changeStream (FerretDB answers
// NotImplemented).
func noChangeStreams(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	if se.HasErrorCode(codeStandalone) || se.HasErrorMessage("only supported on replica sets") {
		return true
	}
	return se.HasErrorCode(codeNotImplemented) && strings.Contains(err.Error(), "$changeStream")
}
