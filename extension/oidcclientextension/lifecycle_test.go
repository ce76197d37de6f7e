package oidcclientextension

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/testutil"
)

func TestMain(m *testing.M) {
	// go-oauth2's memory token store (the test token server's) is a buntdb
	// whose background goroutine has no way to be stopped.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/tidwall/buntdb.(*DB).backgroundManager"))
}

func TestLifecycle(t *testing.T) {
	// Start prefetches a token from an address that refuses connections;
	// Shutdown must end that attempt.
	testutil.ExtensionLifecycle(t, NewFactory(), testConfig("http://127.0.0.1:1/oauth2/token"), nil)
}
