// Command kafka runs a Kafka broker on loopback for the tests: franz-go's
// kfake, a Kafka protocol implementation in Go (produce, fetch, consumer
// groups and committed offsets), in memory. It prints the broker's address
// as its first line, serves until SIGINT or SIGTERM, and keeps everything
// it was sent for as long as it runs, so collectors can be killed and
// restarted against it.
//
//	go -C testbed/kafka build -o /tmp/kafka-broker . && /tmp/kafka-broker -partitions 4 -topics courier-events
//
// It lives in a module of its own so that its dependencies stay out of the
// distribution's module graph (no Kafka server can be installed here).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	port := fs.Int("port", 0, "listening port on 127.0.0.1 (0: any free port)")
	partitions := fs.Int("partitions", 4, "partitions of each topic, seeded or created on first use")
	topics := fs.String("topics", "", "comma-separated topics to create at start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	if *port != 0 {
		opts = append(opts, kfake.Ports(*port))
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	defer cluster.Close()
	fmt.Println(cluster.ListenAddrs()[0])

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}
