// Package e2e tests the built otelcol-courier binary from the outside: the
// components it registers, that its default configuration validates, that it
// starts and stops cleanly with every stock component configured, and that
// data flows through it to real loopback servers.
//
// The tests run the binary named by $COURIER_BINARY (`make test` builds it
// and sets the variable) or, when unset, the default build output in
// distributions/otelcol-courier. They fail, rather than skip, when there is
// no binary.
package e2e
