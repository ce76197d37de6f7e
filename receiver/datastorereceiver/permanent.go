package datastorereceiver

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/auth"

	courmongo "github.com/courier-otel/courier/receiver/datastorereceiver/internal/mongo"
)

// permanent tells the errors of opening the datastore that retrying cannot
// fix, and the plain sentence an operator reads about them.
func permanent(err error) (string, bool) {
	if errors.Is(err, courmongo.ErrNoChangeStreams) {
		return "Cannot read the datastore: MongoDB must run as a replica set (a standalone server has no change streams); nothing is exported until it does", true
	}
	var pgErr *pgconn.PgError
	// Class 28: invalid authorization specification (28000) and invalid
	// password (28P01).
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "28" {
		return "Cannot read the datastore: PostgreSQL refused the credentials; nothing is exported until they are fixed", true
	}
	var authErr *auth.Error
	if errors.As(err, &authErr) {
		return "Cannot read the datastore: MongoDB refused the credentials; nothing is exported until they are fixed", true
	}
	var srvErr mongo.ServerError
	if errors.As(err, &srvErr) && (srvErr.HasErrorCode(18) || srvErr.HasErrorCode(13)) { // AuthenticationFailed, Unauthorized
		return "Cannot read the datastore: MongoDB refused the credentials or the permission; nothing is exported until they are fixed", true
	}
	return "", false
}
