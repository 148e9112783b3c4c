// Command watermill-peer measures Watermill's end-to-end ordered throughput
// on NATS JetStream or Kafka for evbus's benchmark harness (`cargo xtask
// perf`): it publishes the harness's envelopes with Watermill, handles them
// with a Watermill subscriber under a per-aggregate order check, and prints
// its wall time, CPU time and tally as one JSON line on stdout. The flags,
// timing and check are the shared harness's (../harness).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"evbus.invalid/interop/go/peers/harness"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// peer is one broker's Watermill publisher and subscriber.
type peer struct {
	pub   message.Publisher
	sub   message.Subscriber
	topic string
	// keyMetadata, when set, is the metadata key the aggregate id goes in
	// (Kafka's partition key); NATS needs none, as a stream keeps one order.
	keyMetadata string
}

func main() { harness.Main("watermill-peer", open) }

// open builds the broker's publisher and subscriber and starts the handler.
func open(f harness.Flags, handle harness.Handle) (harness.Peer, error) {
	// Only errors are logged (to stderr): Watermill's debug and trace logs
	// cost CPU on every message.
	logger := errorLogger{log.New(os.Stderr, "watermill: ", log.LstdFlags)}
	var (
		p   *peer
		err error
	)
	switch f.Broker {
	case "nats":
		p, err = newNATS(f.Servers, f.Group, logger)
	case "kafka":
		p, err = newKafka(f.Servers, f.Group, logger)
	default:
		err = fmt.Errorf("unknown -broker %q (nats or kafka)", f.Broker)
	}
	if err != nil {
		return nil, err
	}
	p.topic = f.Topic
	messages, err := p.sub.Subscribe(context.Background(), f.Topic)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", f.Topic, err)
	}
	go consume(messages, handle)
	return p, nil
}

// Prepare makes the Watermill message: UUID = event_id, payload = the
// envelope's exact bytes.
func (p *peer) Prepare(e *harness.Envelope) error {
	msg := message.NewMessage(e.EventID, e.Body)
	if p.keyMetadata != "" {
		msg.Metadata.Set(p.keyMetadata, e.AggregateID)
	}
	e.Prepared = msg
	return nil
}

// Publish returns after the broker's ack.
func (p *peer) Publish(e *harness.Envelope) error {
	return p.pub.Publish(p.topic, e.Prepared.(*message.Message))
}

// Close closes the subscriber, then the publisher.
func (p *peer) Close() error {
	if err := p.sub.Close(); err != nil {
		return fmt.Errorf("close subscriber: %w", err)
	}
	if err := p.pub.Close(); err != nil {
		return fmt.Errorf("close publisher: %w", err)
	}
	return nil
}

// consume is the subscriber's handler loop, the way Watermill's examples
// consume a subscription: one message at a time, Ack after handling.
func consume(messages <-chan *message.Message, handle harness.Handle) {
	for msg := range messages {
		var fields struct {
			AggregateID  string `json:"aggregate_id"`
			EventVersion int64  `json:"event_version"`
		}
		if err := json.Unmarshal(msg.Payload, &fields); err != nil {
			log.Printf("message %s: not an envelope: %v", msg.UUID, err)
		} else {
			handle(fields.AggregateID, fields.EventVersion)
		}
		msg.Ack()
	}
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
