package main

// The Go SDK's envelope, rebuilt from github.com/ChenBigdata421/jxt-core
// v1.7.5 (sdk/pkg/eventbus/envelope.go), because the Go module proxy does not
// serve that module (see README.md). Only what decides the wire form is
// rebuilt: the struct with its json tags, Validate, and the marshaller the
// SDK uses (sdk/pkg/json: jsoniter.ConfigCompatibleWithStandardLibrary).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
)

// sdkJSON is the SDK's jxtjson.JSON: what PublishEnvelope marshals with and
// SubscribeEnvelope unmarshals with.
var sdkJSON = jsoniter.ConfigCompatibleWithStandardLibrary

// Envelope is the v1.7.5 struct (TenantID became an int in v1.1.38).
type Envelope struct {
	EventID       string              `json:"event_id"`
	AggregateID   string              `json:"aggregate_id"`
	EventType     string              `json:"event_type"`
	EventVersion  int64               `json:"event_version"`
	Timestamp     time.Time           `json:"timestamp"`
	TraceID       string              `json:"trace_id,omitempty"`
	CorrelationID string              `json:"correlation_id,omitempty"`
	TenantID      int                 `json:"tenant_id,omitempty"`
	Payload       jsoniter.RawMessage `json:"payload"`
}

// LegacyEnvelope is the struct of SDK versions v1.1.22 to v1.1.37, whose
// tenant id was a string. Services not yet upgraded still write it.
type LegacyEnvelope struct {
	EventID       string              `json:"event_id"`
	AggregateID   string              `json:"aggregate_id"`
	EventType     string              `json:"event_type"`
	EventVersion  int64               `json:"event_version"`
	Timestamp     time.Time           `json:"timestamp"`
	TraceID       string              `json:"trace_id,omitempty"`
	CorrelationID string              `json:"correlation_id,omitempty"`
	TenantID      string              `json:"tenant_id,omitempty"`
	Payload       jsoniter.RawMessage `json:"payload"`
}

// Validate is the SDK's Envelope.Validate.
func (e *Envelope) Validate() error {
	if strings.TrimSpace(e.EventID) == "" {
		return errors.New("event_id is required")
	}
	if strings.TrimSpace(e.AggregateID) == "" {
		return errors.New("aggregate_id is required")
	}
	if strings.TrimSpace(e.EventType) == "" {
		return errors.New("event_type is required")
	}
	if e.EventVersion <= 0 {
		return errors.New("event_version must be positive")
	}
	if len(e.Payload) == 0 {
		return errors.New("payload is required")
	}
	if err := validateAggregateID(e.AggregateID); err != nil {
		return fmt.Errorf("invalid aggregate_id: %w", err)
	}
	return nil
}

// ToBytes is the SDK's Envelope.ToBytes: validate, then marshal.
func (e *Envelope) ToBytes() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return sdkJSON.Marshal(e)
}

// FromBytes is the SDK's FromBytes: unmarshal, then validate.
func FromBytes(data []byte) (*Envelope, error) {
	var env Envelope
	if err := sdkJSON.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("failed to unmarshal envelope: %w", err)
	}
	if err := env.Validate(); err != nil {
		return nil, fmt.Errorf("invalid envelope: %w", err)
	}
	return &env, nil
}

func validateAggregateID(id string) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return errors.New("aggregate_id cannot be empty")
	}
	if len(id) > 256 {
		return errors.New("aggregate_id too long (max 256 characters)")
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == ':' || r == '_' || r == '-' || r == '.' || r == '/':
		default:
			return fmt.Errorf("aggregate_id contains invalid character: %c", r)
		}
	}
	return nil
}
