// Command courier-bench-report writes bench/REPORT.md and its SVG charts
// from the output of `go test -bench` (see testbed/benchreport). `make
// bench` runs it twice: with -machine before the benchmarks, to head the
// results file with a description of the machine, and after them to write
// the report.
//
//	courier-bench-report -machine >bench/results.txt
//	go test -run '^$' -bench . ./... >>bench/results.txt
//	courier-bench-report -in bench/results.txt -out bench
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/courier-otel/courier/testbed/benchreport"
)

func main() {
	in := flag.String("in", "bench/results.txt", "benchmark output to read (go test -bench format)")
	out := flag.String("out", "bench", "directory to write "+benchreport.ReportFile+" and its charts into")
	machine := flag.Bool("machine", false, "print a description of this machine as benchmark configuration lines, and exit")
	flag.Parse()
	if err := run(*in, *out, *machine); err != nil {
		fmt.Fprintln(os.Stderr, "courier-bench-report:", err)
		os.Exit(1)
	}
}

func run(in, out string, machine bool) error {
	if machine {
		return benchreport.WriteConfig(os.Stdout, benchreport.Probe())
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	results, err := benchreport.Parse(f)
	if err != nil {
		return err
	}
	if len(results.Benchmarks) == 0 {
		return fmt.Errorf("%s holds no benchmark results", in)
	}
	rep := benchreport.Render(results, benchreport.Options{Source: filepath.ToSlash(in), Machine: benchreport.Probe()})
	if err := rep.WriteDir(out); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %d chart(s)\n", filepath.Join(out, benchreport.ReportFile), len(rep.Charts))
	return nil
}
