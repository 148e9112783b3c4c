// Command evbus-interop is evbus's Go interop test tool: it speaks the Go
// SDK's wire form on NATS JetStream and Kafka, and writes golden vectors.
// It is test tooling run by `cargo xtask test`, not part of evbus.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

const usage = `usage: evbus-interop <command> [flags]

commands:
  vectors        -out DIR                  write the golden vectors
  nats-publish   -url -topic -stream       publish the spec's envelopes (PublishEnvelope)
  nats-consume   -url -topic -stream -durable   consume and check them (SubscribeEnvelope)
  kafka-publish  -brokers -topic           publish the spec's envelopes (PublishEnvelope)
  kafka-consume  -brokers -topic -group    consume and check them (SubscribeEnvelope)
  wire-form                                say which Go code speaks the wire form

Each broker command prints one JSON summary line on stdout and exits 1 on failure.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	out := fs.String("out", "", "vectors: output directory")
	url := fs.String("url", "nats://127.0.0.1:4222", "NATS server URL")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated")
	topic := fs.String("topic", "", "topic (NATS subject / Kafka topic)")
	stream := fs.String("stream", "", "NATS: the SDK's configured unified stream name")
	durable := fs.String("durable", "evbus-interop", "NATS: the SDK's base durable consumer name")
	group := fs.String("group", "evbus-interop", "Kafka: consumer group")
	count := fs.Int("count", 1000, "envelopes")
	aggregates := fs.Int("aggregates", 100, "aggregates")
	firstVersion := fs.Int64("first-version", 1, "version of each aggregate's first envelope")
	idPrefix := fs.String("id-prefix", "00000000", "first 8 hex digits of the event ids")
	stringTenants := fs.Bool("string-tenants", false, "publish every fourth envelope in the pre-v1.1.38 form (string tenant)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	_ = fs.Parse(os.Args[2:])
	spec := Spec{Count: *count, Aggregates: *aggregates, FirstVersion: *firstVersion,
		IDPrefix: *idPrefix, StringTenants: *stringTenants}

	var summary Summary
	var err error
	switch cmd {
	case "vectors":
		if *out == "" {
			err = fmt.Errorf("vectors needs -out DIR")
		} else {
			err = writeVectors(*out)
		}
		exit(err)
		return
	case "wire-form":
		fmt.Println(WireForm)
		return
	case "nats-publish", "nats-consume":
		a := natsArgs{url: *url, topic: *topic, stream: *stream, durable: *durable, spec: spec, timeout: *timeout}
		if *topic == "" || *stream == "" {
			exit(fmt.Errorf("%s needs -topic and -stream", cmd))
		}
		if cmd == "nats-publish" {
			summary, err = natsPublish(a)
		} else {
			summary, err = natsConsume(a)
		}
	case "kafka-publish", "kafka-consume":
		a := kafkaArgs{brokers: strings.Split(*brokers, ","), topic: *topic, group: *group, spec: spec, timeout: *timeout}
		if *topic == "" {
			exit(fmt.Errorf("%s needs -topic", cmd))
		}
		if cmd == "kafka-publish" {
			summary, err = kafkaPublish(a)
		} else {
			summary, err = kafkaConsume(a)
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	summary.Command = cmd
	line, _ := json.Marshal(summary)
	fmt.Println(string(line))
	exit(err)
}

func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "evbus-interop:", err)
		os.Exit(1)
	}
}
