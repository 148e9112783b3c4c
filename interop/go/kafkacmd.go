package main

// Kafka the way the SDK's kafkaEventBus does it (IBM/sarama): an async
// producer with sarama's hash partitioner (FNV-1a of the key), record key =
// aggregate id, the `X-*` headers of PublishEnvelope, acks from all replicas;
// a consumer group reading from the oldest offset, each body read with
// FromBytes (which validates) and marked after it was handled.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

type kafkaArgs struct {
	brokers      []string
	topic, group string
	spec         Spec
	timeout      time.Duration
}

func kafkaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "evbus-interop-go"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Compression = sarama.CompressionNone
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	cfg.Producer.Flush.Messages = 100
	cfg.Producer.Flush.Bytes = 100000
	cfg.Producer.Retry.Max = 3
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	// One request in flight: the SDK's default of 100 lets a retried batch
	// overtake a later one, which would make an order failure here the
	// SDK's, not evbus's.
	cfg.Net.MaxOpenRequests = 1
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	cfg.ChannelBufferSize = 1000
	return cfg
}

// sdkHeaders are PublishEnvelope's record headers.
func sdkHeaders(e *Envelope) []sarama.RecordHeader {
	h := []sarama.RecordHeader{
		{Key: []byte("X-Event-ID"), Value: []byte(e.EventID)},
		{Key: []byte("X-Aggregate-ID"), Value: []byte(e.AggregateID)},
		{Key: []byte("X-Event-Version"), Value: []byte(fmt.Sprintf("%d", e.EventVersion))},
		{Key: []byte("X-Event-Type"), Value: []byte(e.EventType)},
	}
	if e.TraceID != "" {
		h = append(h, sarama.RecordHeader{Key: []byte("X-Trace-ID"), Value: []byte(e.TraceID)})
	}
	if e.CorrelationID != "" {
		h = append(h, sarama.RecordHeader{Key: []byte("X-Correlation-ID"), Value: []byte(e.CorrelationID)})
	}
	if e.TenantID != 0 {
		h = append(h, sarama.RecordHeader{Key: []byte("X-Tenant-ID"), Value: []byte(fmt.Sprintf("%d", e.TenantID))})
	}
	return h
}

func kafkaPublish(a kafkaArgs) (Summary, error) {
	s := Summary{Command: "kafka-publish", WireForm: WireForm, Aggregates: a.spec.Aggregates,
		Partitions: map[string]int32{}}
	producer, err := sarama.NewAsyncProducer(a.brokers, kafkaConfig())
	if err != nil {
		return s, fmt.Errorf("producer: %w", err)
	}
	defer producer.Close()
	go func() {
		for i := 0; i < a.spec.Count; i++ {
			e := a.spec.Envelope(i)
			body, err := e.Body()
			if err != nil {
				panic(err)
			}
			headers := sdkHeaders(e.SDKEnvelope())
			if e.TenantString != "" {
				// A legacy service wrote its string tenant into the header.
				headers = append(headers, sarama.RecordHeader{Key: []byte("X-Tenant-ID"), Value: []byte(e.TenantString)})
			}
			producer.Input() <- &sarama.ProducerMessage{Topic: a.topic,
				Key: sarama.StringEncoder(e.AggregateID), Value: sarama.ByteEncoder(body), Headers: headers}
		}
	}()
	timeout := time.After(a.timeout)
	for done := 0; done < a.spec.Count; done++ {
		select {
		case m := <-producer.Successes():
			s.Published++
			key := string(m.Key.(sarama.StringEncoder))
			if p, ok := s.Partitions[key]; ok && p != m.Partition {
				s.PartitionMismatch++
			}
			s.Partitions[key] = m.Partition
		case e := <-producer.Errors():
			return s, fmt.Errorf("publish failed: %w", e.Err)
		case <-timeout:
			return s, fmt.Errorf("timed out after %s with %d of %d acked", a.timeout, s.Published, a.spec.Count)
		}
	}
	return s, nil
}

type groupHandler struct {
	mu         sync.Mutex
	checker    *Checker
	partitions int32
	topic      string
	done       context.CancelFunc
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *groupHandler) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	hash := sarama.NewHashPartitioner(h.topic)
	for msg := range claim.Messages() {
		h.mu.Lock()
		key := string(msg.Key)
		s := &h.checker.Summary
		if p, ok := s.Partitions[key]; ok && p != msg.Partition {
			s.PartitionMismatch++
		}
		s.Partitions[key] = msg.Partition
		// Where sarama's producer would have put this key.
		want, err := hash.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, h.partitions)
		if err != nil || want != msg.Partition {
			s.PartitionMismatch++
			h.checker.fail("key %s on partition %d, sarama's hash partitioner says %d", key, msg.Partition, want)
		}
		if h.checker.Receive(msg.Value) {
			h.done()
		}
		h.mu.Unlock()
		session.MarkMessage(msg, "")
	}
	return nil
}

func kafkaConsume(a kafkaArgs) (Summary, error) {
	c := newChecker("kafka-consume", a.spec)
	client, err := sarama.NewClient(a.brokers, kafkaConfig())
	if err != nil {
		return c.Summary, fmt.Errorf("client: %w", err)
	}
	defer client.Close()
	partitions, err := client.Partitions(a.topic)
	if err != nil {
		return c.Summary, fmt.Errorf("partitions of %s: %w", a.topic, err)
	}
	group, err := sarama.NewConsumerGroupFromClient(a.group, client)
	if err != nil {
		return c.Summary, fmt.Errorf("consumer group: %w", err)
	}
	defer group.Close()
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	h := &groupHandler{checker: c, partitions: int32(len(partitions)), topic: a.topic, done: cancel}
	for ctx.Err() == nil {
		if err := group.Consume(ctx, []string{a.topic}, h); err != nil && ctx.Err() == nil {
			return c.Summary, fmt.Errorf("consume: %w", err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.Done() {
		return c.Summary, fmt.Errorf("timed out after %s with %d of %d envelopes", a.timeout, c.Summary.Distinct, a.spec.Count)
	}
	return c.Summary, nil
}
