// Package harness is what every Go benchmark peer of `cargo xtask perf`
// shares, so that the peers differ only in the library they measure: the
// flags, the input file of envelopes, the warm-up, the per-aggregate order
// check, the timed publish-and-handle run and the JSON line the harness
// reads. A peer supplies [Open]; [Main] does the rest.
package harness

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"
)

const (
	// WarmupAggregate is the aggregate of the uncounted warm-up envelope.
	WarmupAggregate = "warmup"
	warmupTimeout   = 60 * time.Second
	closeTimeout    = 30 * time.Second
)

// Flags are the command line every peer takes.
type Flags struct {
	Broker  string  // nats or kafka
	Servers string  // NATS URL, or Kafka host:port[,host:port]
	Topic   string  // existing NATS subject (of an existing stream) or Kafka topic
	Group   string  // NATS durable consumer, or Kafka consumer group
	Input   string  // file of JSON envelopes, one per line
	Window  int     // publishing goroutines (at most the number of aggregates)
	Timeout float64 // seconds the timed part may take before giving up
}

// Handle is what a peer's subscriber calls once per message it handled
// (after decoding, before acknowledging), from any goroutine.
type Handle func(aggregateID string, version int64)

// Peer is one library's publisher and subscriber, subscribed already.
type Peer interface {
	// Prepare turns an input envelope into what Publish takes (stored in
	// its Prepared field); it runs before the timing starts.
	Prepare(e *Envelope) error
	// Publish publishes one prepared envelope the library's way.
	Publish(e *Envelope) error
	// Close releases the library's connections.
	Close() error
}

// Open builds a peer on the broker the flags name, subscribed to the topic,
// calling handle for every message it handles.
type Open func(f Flags, handle Handle) (Peer, error)

// Main parses the flags, reads the input, opens the peer, warms it up, times
// publishing every envelope until all were handled (or the timeout), prints
// the tally as one JSON line on stdout and closes the peer. stdout is the
// report's alone: the peer's libraries may log, so os.Stdout points at
// stderr while they run. Setup and publish failures exit 1.
func Main(name string, open Open) {
	log.SetFlags(0)
	log.SetPrefix(name + ": ")
	var f Flags
	flag.StringVar(&f.Broker, "broker", "", "nats or kafka")
	flag.StringVar(&f.Servers, "servers", "", "NATS URL, or Kafka host:port[,host:port]")
	flag.StringVar(&f.Topic, "topic", "", "existing NATS subject (of an existing stream) or Kafka topic")
	flag.StringVar(&f.Group, "group", "", "NATS durable consumer, or Kafka consumer group")
	flag.StringVar(&f.Input, "input", "", "file of JSON envelopes, one per line")
	flag.IntVar(&f.Window, "window", 1, "publishing goroutines (at most the number of aggregates)")
	flag.Float64Var(&f.Timeout, "timeout", 60, "seconds the timed part may take before giving up")
	flag.Parse()
	if f.Servers == "" || f.Topic == "" || f.Group == "" || f.Input == "" || f.Window < 1 || f.Timeout <= 0 {
		log.Fatal("need -broker nats|kafka -servers -topic -group -input -window >= 1 -timeout > 0")
	}
	report := os.Stdout
	os.Stdout = os.Stderr

	envelopes, aggregates, err := ReadInput(f.Input)
	if err != nil {
		log.Fatalf("input %s: %v", f.Input, err)
	}
	warmup, err := warmupEnvelope()
	if err != nil {
		log.Fatal(err)
	}
	check := newChecker(uint64(len(envelopes)))
	warmedUp := make(chan struct{}, 1)
	handle := func(aggregateID string, version int64) {
		if aggregateID == WarmupAggregate {
			select {
			case warmedUp <- struct{}{}:
			default:
			}
			return
		}
		check.observe(aggregateID, version)
	}
	peer, err := open(f, handle)
	if err != nil {
		log.Fatal(err)
	}
	for i := range envelopes {
		if err := peer.Prepare(&envelopes[i]); err != nil {
			log.Fatalf("event %s: %v", envelopes[i].EventID, err)
		}
	}
	if err := warmUp(peer, warmup, warmedUp); err != nil {
		log.Fatal(err)
	}

	workers := max(1, min(f.Window, aggregates))
	start, cpuStart := time.Now(), cpuSeconds()
	deadline := time.NewTimer(time.Duration(f.Timeout * float64(time.Second)))
	if err := publishAll(peer, envelopes, workers); err != nil {
		log.Fatalf("publish: %v", err)
	}
	timedOut := false
	select {
	case <-check.done:
	case <-deadline.C:
		timedOut = true
	}
	seconds, cpu := time.Since(start).Seconds(), cpuSeconds()-cpuStart

	result := check.snapshot(uint64(len(envelopes)))
	result.Seconds, result.CPUSeconds, result.TimedOut = seconds, cpu, timedOut
	line, err := json.Marshal(result)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(report, string(line))
	closeBounded(peer)
}

// warmUp publishes one uncounted envelope and waits until it is handled, so
// connections, the consumer (group) and the handler are live before timing.
func warmUp(peer Peer, warmup *Envelope, warmedUp <-chan struct{}) error {
	if err := peer.Prepare(warmup); err != nil {
		return fmt.Errorf("warm-up envelope: %w", err)
	}
	if err := peer.Publish(warmup); err != nil {
		return fmt.Errorf("warm-up publish: %w", err)
	}
	select {
	case <-warmedUp:
		return nil
	case <-time.After(warmupTimeout):
		return fmt.Errorf("warm-up message not handled within %v", warmupTimeout)
	}
}

// closeBounded closes the peer outside the figures; a broker that hangs on
// close must not hang the harness, so it gets a bound.
func closeBounded(peer Peer) {
	closed := make(chan struct{})
	go func() {
		if err := peer.Close(); err != nil {
			log.Printf("close: %v", err)
		}
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(closeTimeout):
		log.Printf("closing took over %v; exiting anyway", closeTimeout)
	}
}
