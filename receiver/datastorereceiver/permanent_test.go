package datastorereceiver

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	courmongo "github.com/courier-otel/courier/receiver/datastorereceiver/internal/mongo"
)

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string // "" = retried
	}{
		{fmt.Errorf("open: %w", courmongo.ErrNoChangeStreams), "replica set"},
		{fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}), "refused the credentials"},
		{fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry"}), "refused the credentials"},
		{fmt.Errorf("query: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection"}), ""},
		{errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), ""},
		{nil, ""},
	} {
		msg, ok := permanent(tc.err)
		if ok != (tc.want != "") || !strings.Contains(msg, tc.want) {
			t.Errorf("permanent(%v) = %q, %v; want %q", tc.err, msg, ok, tc.want)
		}
	}
}
