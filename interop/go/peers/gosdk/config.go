package main

import (
	"fmt"
	"strings"

	"github.com/ChenBigdata421/jxt-core/sdk/config"
	"github.com/ChenBigdata421/jxt-core/sdk/pkg/eventbus"
	"github.com/nats-io/nats.go"
)

// natsConfig is the SDK's JetStream bus on the stream the harness created
// for the topic: the SDK needs the stream's name, which it finds already
// there and keeps. It is the SDK's internal config, filled in by its
// factory: the user-level config's conversion drops the stream settings
// and would put every topic under its own BUSINESS_STREAM. The consumer
// settings are the SDK's defaults (explicit acks, deliver all; it caps
// MaxAckPending at 1,000 and pulls batches of 500 per topic).
func natsConfig(url, topic, group string) (*eventbus.EventBusConfig, error) {
	stream, err := streamOf(url, topic)
	if err != nil {
		return nil, err
	}
	return &eventbus.EventBusConfig{
		Type: "nats",
		NATS: eventbus.NATSConfig{
			URLs:     []string{url},
			ClientID: group,
			JetStream: eventbus.JetStreamConfig{
				Enabled: true,
				Stream:  eventbus.StreamConfig{Name: stream, Subjects: []string{topic}},
				Consumer: eventbus.NATSConsumerConfig{
					DurableName:   group,
					DeliverPolicy: "all",
					AckPolicy:     "explicit",
				},
			},
		},
	}, nil
}

// streamOf asks the server which stream stores topic.
func streamOf(url, topic string) (string, error) {
	nc, err := nats.Connect(url, nats.Name("gosdk-peer-setup"))
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", url, err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return "", err
	}
	stream, err := js.StreamNameBySubject(topic)
	if err != nil {
		return "", fmt.Errorf("no stream stores %s (the harness creates it): %w", topic, err)
	}
	return stream, nil
}

// kafkaConfig is the SDK's Kafka bus from its user-level config (what a
// service puts in its YAML: brokers, group, earliest offset for a new
// group), converted by the SDK into its internal config with its defaults:
// an async idempotent producer with acks from all in-sync replicas (forced
// by the conversion), one request in flight, Sarama's hash partitioner on
// the aggregate id, flushing at 1 MiB (the conversion) or 100 messages or
// 500 ms (the factory).
func kafkaConfig(servers, group string) *eventbus.EventBusConfig {
	internal := eventbus.ConvertUserConfigToInternalKafkaConfig(&config.KafkaConfig{
		Brokers:  strings.Split(servers, ","),
		Consumer: config.ConsumerConfig{GroupID: group, AutoOffsetReset: "earliest"},
	})
	internal.ClientID = group
	return &eventbus.EventBusConfig{Type: "kafka", Kafka: *internal}
}
