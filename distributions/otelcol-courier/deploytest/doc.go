// Package deploytest tests what deploys otelcol-courier: the Helm chart in
// ../helm/courier and the image built from ../Dockerfile.
//
// The chart is rendered with Helm's Go library as `helm template` does; every
// rendered manifest must decode strictly into its k8s.io/api type, and every
// rendered collector configuration must pass `otelcol-courier validate`. The
// image cannot be built here (no container engine), so its test checks what
// the Dockerfile relies on: the paths it copies exist after `make build`, the
// binary is statically linked, and the configuration it ships validates.
//
// This is a Go module of its own so that Helm's and Kubernetes' dependencies
// stay out of the collector's module graph. `make test` runs it with
// $COURIER_BINARY set to the binary it built.
package deploytest
