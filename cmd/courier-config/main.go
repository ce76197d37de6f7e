// Command courier-config prints the Courier collector config equivalent to an
// Omniverse telemetry transmitter settings file or to NVSentinel
// event-exporter Helm values. See README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/courier-otel/courier/internal/configtranslate"
)

const usage = `usage:
  courier-config omniverse [-strict] <settings.json|settings.toml|->
  courier-config nvsentinel [-strict] [-provider postgresql|mongodb] [-oidc-secret-file path] <values.yaml|->

Prints the equivalent Courier collector config on stdout. Settings that are
not translated are reported on stderr as warnings; -strict makes them fail
(exit status 1, nothing printed on stdout).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks command-line mistakes, which exit with status 2.
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	res, err := translate(args, stdin, stderr)
	switch {
	case errors.Is(err, errUsage):
		_, _ = fmt.Fprint(stderr, usage)
		return 2
	case err != nil:
		// A translation reports all its errors, one per line.
		for line := range strings.SplitSeq(err.Error(), "\n") {
			_, _ = fmt.Fprintf(stderr, "courier-config: %s\n", line)
		}
		return 1
	}
	for _, w := range res.result.Warnings {
		_, _ = fmt.Fprintf(stderr, "courier-config: warning: %s\n", w)
	}
	for _, n := range res.result.Notes {
		_, _ = fmt.Fprintf(stderr, "courier-config: note: %s\n", n)
	}
	if res.strict && len(res.result.Warnings) > 0 {
		_, _ = fmt.Fprintf(stderr, "courier-config: %d setting(s) not translated; failing because of -strict\n", len(res.result.Warnings))
		return 1
	}
	if _, err := stdout.Write(res.result.Config); err != nil {
		_, _ = fmt.Fprintf(stderr, "courier-config: %v\n", err)
		return 1
	}
	return 0
}

type translation struct {
	result *configtranslate.Result
	strict bool
}

func translate(args []string, stdin io.Reader, stderr io.Writer) (translation, error) {
	if len(args) == 0 || (args[0] != "omniverse" && args[0] != "nvsentinel") {
		return translation{}, errUsage
	}
	fs := flag.NewFlagSet("courier-config "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	strict := fs.Bool("strict", false, "fail when a setting is not translated")
	var opts configtranslate.NVSentinelOptions
	if args[0] == "nvsentinel" {
		fs.StringVar(&opts.Provider, "provider", "", "datastore: postgresql or mongodb (default: global.datastore.provider of the values, else NVSentinel's default, mongodb)")
		fs.StringVar(&opts.OIDCSecretFile, "oidc-secret-file", configtranslate.DefaultOIDCSecretFile, "where the OIDC client secret is mounted")
	}
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		return translation{}, errUsage
	}
	name := fs.Arg(0)
	data, err := readInput(name, stdin)
	if err != nil {
		return translation{}, err
	}
	var res *configtranslate.Result
	switch args[0] {
	case "omniverse":
		res, err = configtranslate.Omniverse(data, name)
	case "nvsentinel":
		res, err = configtranslate.NVSentinel(data, name, opts)
	}
	if err != nil {
		return translation{}, fmt.Errorf("%s: %s", name, strings.ReplaceAll(err.Error(), "\n", "\n"+name+": "))
	}
	return translation{result: res, strict: *strict}, nil
}

// readInput reads the named file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}
