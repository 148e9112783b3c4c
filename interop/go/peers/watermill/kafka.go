package main

import (
	"fmt"
	"strings"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// partitionKeyMetadata carries the aggregate id to the partitioning
// marshaler; the docs advise metadata so the key needs no payload parsing.
// It travels as one more Kafka header.
const partitionKeyMetadata = "partition_key"

// newKafka builds watermill-kafka's (Sarama) publisher and consumer-group
// subscriber with watermill's default Sarama configs, except that a new
// group starts from the oldest offset. No topic is created: the harness has
// made it, and InitializeTopicDetails/SubscribeInitialize are not used.
func newKafka(servers, group string, logger watermill.LoggerAdapter) (*peer, error) {
	brokers := strings.Split(servers, ",")
	// Key = aggregate id: Sarama's default hash partitioner then keeps an
	// aggregate on one partition, which is how Watermill gets order on Kafka.
	marshaler := kafka.NewWithPartitioningMarshaler(func(_ string, msg *message.Message) (string, error) {
		return msg.Metadata.Get(partitionKeyMetadata), nil
	})

	pub, err := kafka.NewPublisher(kafka.PublisherConfig{
		Brokers:   brokers,
		Marshaler: marshaler,
		// nil OverwriteSaramaConfig: DefaultSaramaSyncPublisherConfig.
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("kafka publisher: %w", err)
	}

	saramaConfig := kafka.DefaultSaramaSubscriberConfig()
	saramaConfig.Consumer.Offsets.Initial = sarama.OffsetOldest
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers:               brokers,
		Unmarshaler:           marshaler,
		OverwriteSaramaConfig: saramaConfig,
		ConsumerGroup:         group,
	}, logger)
	if err != nil {
		_ = pub.Close()
		return nil, fmt.Errorf("kafka subscriber: %w", err)
	}
	return &peer{pub: pub, sub: sub, keyMetadata: partitionKeyMetadata}, nil
}
