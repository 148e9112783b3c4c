// Command gosdk-peer measures the Go event-bus SDK evbus replaces
// (github.com/ChenBigdata421/jxt-core v1.7.5, package sdk/pkg/eventbus) for
// evbus's benchmark harness (`cargo xtask perf`): the envelopes are
// published with the SDK's PublishEnvelope and handled through its
// SubscribeEnvelope (its keyed actor pool) under the harness's
// per-aggregate order check; the harness (../harness) times the run and
// prints the tally as one JSON line on stdout.
package main

import (
	"context"
	"fmt"

	"evbus.invalid/interop/go/peers/harness"
	"github.com/ChenBigdata421/jxt-core/sdk/pkg/eventbus"
)

// peer is the SDK's bus, subscribed to the topic.
type peer struct {
	bus   eventbus.EventBus
	topic string
	stop  context.CancelFunc
}

func main() { harness.Main("gosdk-peer", open) }

// open builds the bus with the SDK's factory (which fills in its defaults)
// and subscribes the order check to the topic.
func open(f harness.Flags, handle harness.Handle) (harness.Peer, error) {
	var (
		cfg *eventbus.EventBusConfig
		err error
	)
	switch f.Broker {
	case "nats":
		cfg, err = natsConfig(f.Servers, f.Topic, f.Group)
	case "kafka":
		cfg = kafkaConfig(f.Servers, f.Group)
	default:
		err = fmt.Errorf("unknown -broker %q (nats or kafka)", f.Broker)
	}
	if err != nil {
		return nil, err
	}
	bus, err := eventbus.NewFactory(cfg).CreateEventBus()
	if err != nil {
		return nil, fmt.Errorf("the SDK's %s bus: %w", f.Broker, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &peer{bus: bus, topic: f.Topic, stop: stop}
	err = bus.SubscribeEnvelope(ctx, f.Topic, func(_ context.Context, e *eventbus.Envelope) error {
		handle(e.AggregateID, e.EventVersion)
		return nil
	})
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", f.Topic, err)
	}
	return p, nil
}

// Prepare decodes the line into the SDK's Envelope (its FromBytes), as a
// service holds its events before publishing them.
func (p *peer) Prepare(e *harness.Envelope) error {
	envelope, err := eventbus.FromBytes(e.Body)
	if err != nil {
		return err
	}
	e.Prepared = envelope
	return nil
}

// Publish is the SDK's PublishEnvelope: it validates and encodes the
// envelope and hands it to the client's async publisher, returning before
// the broker's ack (the harness's clock stops only when every envelope was
// handled).
func (p *peer) Publish(e *harness.Envelope) error {
	return p.bus.PublishEnvelope(context.Background(), p.topic, e.Prepared.(*eventbus.Envelope))
}

// Close stops the subscription and closes the bus.
func (p *peer) Close() error {
	p.stop()
	return p.bus.Close()
}
