// Command watermill-peer measures Watermill's end-to-end ordered throughput
// on NATS JetStream or Kafka for evbus's benchmark harness (`cargo xtask
// perf`): it publishes the harness's envelopes with Watermill, handles them
// with a Watermill subscriber under a per-aggregate order check, and prints
// its wall time, CPU time and tally as one JSON line on stdout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

const (
	warmupAggregate = "warmup"
	warmupTimeout   = 60 * time.Second
	closeTimeout    = 30 * time.Second
)

// peer is one broker's Watermill publisher and subscriber.
type peer struct {
	pub message.Publisher
	sub message.Subscriber
	// keyMetadata, when set, is the metadata key the aggregate id goes in
	// (Kafka's partition key); NATS needs none, as a stream keeps one order.
	keyMetadata string
}

// newMessage is a Watermill message for one envelope: UUID = event_id,
// payload = the envelope's exact bytes.
func (p *peer) newMessage(eventID, aggregateID string, body []byte) *message.Message {
	msg := message.NewMessage(eventID, body)
	if p.keyMetadata != "" {
		msg.Metadata.Set(p.keyMetadata, aggregateID)
	}
	return msg
}

// envelope is one input line: its bytes and the fields publishing needs.
type envelope struct {
	body        []byte
	eventID     string
	aggregateID string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("watermill-peer: ")
	broker := flag.String("broker", "", "nats or kafka")
	servers := flag.String("servers", "", "NATS URL, or Kafka host:port[,host:port]")
	topic := flag.String("topic", "", "existing NATS subject (of an existing stream) or Kafka topic")
	group := flag.String("group", "", "NATS durable consumer and queue group, or Kafka consumer group")
	input := flag.String("input", "", "file of JSON envelopes, one per line")
	window := flag.Int("window", 1, "publishing goroutines (at most the number of aggregates)")
	timeout := flag.Float64("timeout", 60, "seconds the timed part may take before giving up")
	flag.Parse()
	if *servers == "" || *topic == "" || *group == "" || *input == "" || *window < 1 || *timeout <= 0 {
		log.Fatal("need -broker nats|kafka -servers -topic -group -input -window >= 1 -timeout > 0")
	}

	envelopes, aggregates, err := readInput(*input)
	if err != nil {
		log.Fatalf("input %s: %v", *input, err)
	}

	// Only errors are logged (to stderr): Watermill's debug and trace logs
	// cost CPU on every message.
	logger := errorLogger{log.New(os.Stderr, "watermill: ", log.LstdFlags)}
	var p *peer
	switch *broker {
	case "nats":
		p, err = newNATS(*servers, *group, logger)
	case "kafka":
		p, err = newKafka(*servers, *group, logger)
	default:
		err = fmt.Errorf("unknown -broker %q (nats or kafka)", *broker)
	}
	if err != nil {
		log.Fatal(err)
	}

	messages, err := p.sub.Subscribe(context.Background(), *topic)
	if err != nil {
		log.Fatalf("subscribe to %s: %v", *topic, err)
	}
	check := newChecker(uint64(len(envelopes)))
	warmedUp := make(chan struct{})
	go handle(messages, check, warmedUp)

	if err := warmUp(p, *topic, warmedUp); err != nil {
		log.Fatal(err)
	}

	workers := max(1, min(*window, aggregates))
	start, cpuStart := time.Now(), cpuSeconds()
	deadline := time.NewTimer(time.Duration(*timeout * float64(time.Second)))
	if err := publishAll(p, *topic, envelopes, workers); err != nil {
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
	fmt.Println(string(line))

	// Closing is outside the figures; a broker that hangs on close must not
	// hang the harness, so it gets a bound.
	closed := make(chan struct{})
	go func() {
		if err := p.sub.Close(); err != nil {
			log.Printf("close subscriber: %v", err)
		}
		if err := p.pub.Close(); err != nil {
			log.Printf("close publisher: %v", err)
		}
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(closeTimeout):
		log.Printf("closing took over %v; exiting anyway", closeTimeout)
	}
}

// readInput reads one envelope per non-empty line and counts the distinct
// aggregates.
func readInput(path string) ([]envelope, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var out []envelope
	seen := make(map[string]struct{})
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 {
			var fields struct {
				EventID     string `json:"event_id"`
				AggregateID string `json:"aggregate_id"`
			}
			if err := json.Unmarshal(line, &fields); err != nil {
				return nil, 0, fmt.Errorf("line %d: %w", n, err)
			}
			if fields.EventID == "" || fields.AggregateID == "" {
				return nil, 0, fmt.Errorf("line %d: no event_id or aggregate_id", n)
			}
			out = append(out, envelope{body: line, eventID: fields.EventID, aggregateID: fields.AggregateID})
			seen[fields.AggregateID] = struct{}{}
		}
		if err != nil { // io.EOF
			return out, len(seen), nil
		}
	}
}

// handle is the subscriber's handler loop, the way Watermill's examples
// consume a subscription: one message at a time, Ack after handling.
func handle(messages <-chan *message.Message, check *checker, warmedUp chan<- struct{}) {
	var once sync.Once
	for msg := range messages {
		var fields struct {
			AggregateID  string `json:"aggregate_id"`
			EventVersion int64  `json:"event_version"`
		}
		switch err := json.Unmarshal(msg.Payload, &fields); {
		case err != nil:
			log.Printf("message %s: not an envelope: %v", msg.UUID, err)
		case fields.AggregateID == warmupAggregate:
			once.Do(func() { close(warmedUp) })
		default:
			check.observe(fields.AggregateID, fields.EventVersion)
		}
		msg.Ack()
	}
}

// warmUp publishes one uncounted envelope and waits until it is handled, so
// connections, the consumer (group) and the handler are live before timing.
func warmUp(p *peer, topic string, warmedUp <-chan struct{}) error {
	eventID := watermill.NewUUID()
	body, err := json.Marshal(struct {
		EventID      string          `json:"event_id"`
		AggregateID  string          `json:"aggregate_id"`
		EventType    string          `json:"event_type"`
		EventVersion int64           `json:"event_version"`
		Timestamp    time.Time       `json:"timestamp"`
		Payload      json.RawMessage `json:"payload"`
	}{eventID, warmupAggregate, "Warmup", 1, time.Now().UTC(), json.RawMessage(`{}`)})
	if err != nil {
		return err
	}
	if err := p.pub.Publish(topic, p.newMessage(eventID, warmupAggregate, body)); err != nil {
		return fmt.Errorf("warm-up publish: %w", err)
	}
	select {
	case <-warmedUp:
		return nil
	case <-time.After(warmupTimeout):
		return fmt.Errorf("warm-up message not handled within %v", warmupTimeout)
	}
}

// publishAll publishes every envelope with `workers` goroutines: an
// aggregate always goes to the same worker, and each worker publishes its
// envelopes one by one in input order (Publish returns after the broker's
// ack), so every aggregate's versions reach the broker in order.
func publishAll(p *peer, topic string, envelopes []envelope, workers int) error {
	queues := make([][]*envelope, workers)
	for i := range envelopes {
		h := fnv.New32a()
		h.Write([]byte(envelopes[i].aggregateID))
		w := h.Sum32() % uint32(workers)
		queues[w] = append(queues[w], &envelopes[i])
	}
	var (
		wg       sync.WaitGroup
		failed   atomic.Bool
		firstErr error
		errOnce  sync.Once
	)
	for _, queue := range queues {
		wg.Go(func() {
			for _, e := range queue {
				if failed.Load() {
					return
				}
				if err := p.pub.Publish(topic, p.newMessage(e.eventID, e.aggregateID, e.body)); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("event %s: %w", e.eventID, err) })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// cpuSeconds is this process's user + system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatalf("getrusage: %v", err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// errorLogger is a watermill.LoggerAdapter that writes errors only.
type errorLogger struct{ l *log.Logger }

func (e errorLogger) Error(msg string, err error, fields watermill.LogFields) {
	e.l.Printf("%s: %v %v", msg, err, fields)
}
func (errorLogger) Info(string, watermill.LogFields)                   {}
func (errorLogger) Debug(string, watermill.LogFields)                  {}
func (errorLogger) Trace(string, watermill.LogFields)                  {}
func (e errorLogger) With(watermill.LogFields) watermill.LoggerAdapter { return e }
