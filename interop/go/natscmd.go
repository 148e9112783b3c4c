package main

// NATS JetStream the way the SDK's natsEventBus does it (nats.go): a stream
// named by the configured unified stream name with the topic as subject,
// PublishEnvelope = js.PublishAsync(topic, body) without headers, and
// SubscribeEnvelope = a durable pull subscription `<durable>_<topic>` fetching
// 500 messages with a 100 ms wait, each body read with FromBytes (which
// validates) and acked.

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

type natsArgs struct {
	url, topic, stream, durable string
	spec                        Spec
	timeout                     time.Duration
}

// connect as NewNATSEventBus does, with the SDK's defaults.
func natsConnect(a natsArgs) (*nats.Conn, nats.JetStreamContext, error) {
	nc, err := nats.Connect(a.url, nats.Name("evbus-interop-go"),
		nats.MaxReconnects(10), nats.ReconnectWait(2*time.Second), nats.Timeout(10*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", a.url, err)
	}
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(10000), nats.MaxWait(10*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// ensureStream is the SDK's ensureStreamExists: the unified stream is used
// when it exists, else created with the SDK's default stream settings.
func ensureStream(js nats.JetStreamContext, name, topic string) error {
	if _, err := js.StreamInfo(name); err == nil {
		return nil
	}
	_, err := js.AddStream(&nats.StreamConfig{
		Name: name, Subjects: []string{topic}, Retention: nats.LimitsPolicy,
		Storage: nats.FileStorage, Replicas: 1, MaxAge: 24 * time.Hour,
		MaxBytes: 1 << 30, MaxMsgs: 1_000_000, Discard: nats.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	return nil
}

func natsPublish(a natsArgs) (Summary, error) {
	s := Summary{Command: "nats-publish", WireForm: WireForm, Aggregates: a.spec.Aggregates}
	nc, js, err := natsConnect(a)
	if err != nil {
		return s, err
	}
	defer nc.Close()
	if err := ensureStream(js, a.stream, a.topic); err != nil {
		return s, err
	}
	futures := make([]nats.PubAckFuture, 0, a.spec.Count)
	for i := 0; i < a.spec.Count; i++ {
		body, err := a.spec.Envelope(i).Body()
		if err != nil {
			return s, fmt.Errorf("envelope %d: %w", i, err)
		}
		f, err := js.PublishAsync(a.topic, body)
		if err != nil {
			return s, fmt.Errorf("publish %d: %w", i, err)
		}
		futures = append(futures, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(a.timeout):
		return s, fmt.Errorf("acks not complete after %s", a.timeout)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
			s.Published++
		case err := <-f.Err():
			return s, fmt.Errorf("publish %d not stored: %w", i, err)
		}
	}
	return s, nil
}

func natsConsume(a natsArgs) (Summary, error) {
	c := newChecker("nats-consume", a.spec)
	nc, js, err := natsConnect(a)
	if err != nil {
		return c.Summary, err
	}
	defer nc.Close()
	// The SDK uses the configured unified stream when one of its subjects
	// matches the topic (here the stream evbus created, named in the Go
	// service's config), and creates `<name>_<topic>` otherwise.
	if err := ensureStream(js, a.stream, a.topic); err != nil {
		return c.Summary, err
	}
	suffix := strings.NewReplacer(".", "_", "*", "wildcard", ">", "all").Replace(a.topic)
	sub, err := js.PullSubscribe(a.topic, fmt.Sprintf("%s_%s", a.durable, suffix))
	if err != nil {
		return c.Summary, fmt.Errorf("pull subscribe: %w", err)
	}
	deadline := time.Now().Add(a.timeout)
	for !c.Done() {
		if time.Now().After(deadline) {
			return c.Summary, fmt.Errorf("timed out after %s with %d of %d envelopes", a.timeout, c.Summary.Distinct, a.spec.Count)
		}
		msgs, err := sub.Fetch(500, nats.MaxWait(100*time.Millisecond))
		if err != nil && err != nats.ErrTimeout {
			return c.Summary, fmt.Errorf("fetch: %w", err)
		}
		for _, msg := range msgs {
			c.Receive(msg.Data)
			if err := msg.Ack(); err != nil {
				return c.Summary, fmt.Errorf("ack: %w", err)
			}
		}
	}
	return c.Summary, nil
}
