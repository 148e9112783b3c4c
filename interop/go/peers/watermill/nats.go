package main

import (
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/nats-io/nats.go"
)

// newNATS builds watermill-nats's JetStream publisher and subscriber
// (pkg/nats, which its docs recommend for production over the experimental
// pkg/jetstream). The harness creates the stream, so AutoProvision is off:
// with a durable name set, nats.go finds the stream by the subject and binds
// the durable push consumer to it.
func newNATS(url, group string, logger watermill.LoggerAdapter) (*peer, error) {
	js := wmnats.JetStreamConfig{
		AutoProvision: false,
		// Sends the message UUID (= event_id) as Nats-Msg-Id, so JetStream
		// drops a retried publish within its duplicate window.
		TrackMsgId: true,
		// Ack with AckSync (the default): the handler's Ack waits for the
		// server's confirmation, as the docs ask for exactly-once delivery.
		AckAsync: false,
		// Durable name = DurablePrefix when no DurableCalculator is given.
		DurablePrefix: group,
		SubscribeOptions: []nats.SubOpt{
			nats.DeliverAll(),
			nats.AckExplicit(),
		},
	}
	options := []nats.Option{nats.Name("watermill-peer")}

	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:         url,
		NatsOptions: options,
		Marshaler:   &wmnats.NATSMarshaler{}, // payload = envelope bytes, UUID in a header
		JetStream:   js,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("nats publisher: %w", err)
	}
	sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL:         url,
		NatsOptions: options,
		Unmarshaler: &wmnats.NATSMarshaler{},
		// One subscription: nats.go runs its callback on one goroutine, and
		// watermill waits for each message's Ack before taking the next, so
		// the stream's order reaches the handler.
		SubscribersCount: 1,
		// Queue group = the durable's name, as the docs recommend for
		// consumer groups on JetStream.
		QueueGroupPrefix: group,
		AckWaitTimeout:   30 * time.Second,
		JetStream:        js,
	}, logger)
	if err != nil {
		_ = pub.Close()
		return nil, fmt.Errorf("nats subscriber: %w", err)
	}
	return &peer{pub: pub, sub: sub}, nil
}
