package main

// The traffic both sides agree on. Envelope i of a run is a pure function of
// i, written out identically in the Rust tests
// (crates/evbus/tests/go_interop/spec.rs), so each side checks every field
// it receives against what the other side was told to send, without trusting
// either codec.

import (
	"fmt"
	"time"
)

// Spec describes one run.
type Spec struct {
	Count      int
	Aggregates int
	// FirstVersion is the version of each aggregate's first envelope (a
	// second producer on the same topic continues where the first stopped).
	FirstVersion int64
	// IDPrefix tells the envelopes of two producers apart.
	IDPrefix string
	// StringTenants makes every fourth envelope a pre-v1.1.38 envelope whose
	// tenant id is a string (only a Go producer can send them to a Go
	// consumer of v1.7.5, which reads numbers only).
	StringTenants bool
}

var baseTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// UTC+8, the zone the Go services ran in: Go marshals a local time with its
// offset.
var plus8 = time.FixedZone("", 8*3600)

// Expected is envelope i: what is sent, and what must arrive.
type Expected struct {
	EventID       string
	AggregateID   string
	EventType     string
	EventVersion  int64
	Timestamp     time.Time
	TraceID       string
	CorrelationID string
	// Exactly one of the two tenant forms is set, or none.
	TenantNumber int
	TenantString string
	Payload      string
}

func (s Spec) aggregate(i int) int { return i % s.Aggregates }

// Envelope i.
func (s Spec) Envelope(i int) Expected {
	a := s.aggregate(i)
	e := Expected{
		EventID:      fmt.Sprintf("%s-0000-7000-8000-%012d", s.IDPrefix, i),
		AggregateID:  fmt.Sprintf("order-%03d", a),
		EventType:    "order.updated",
		EventVersion: s.FirstVersion + int64(i/s.Aggregates),
		// Nanosecond digits that vary, trailing zeros included.
		Timestamp: baseTime.Add(time.Duration(i) * 1_000_001 * time.Nanosecond),
		Payload:   fmt.Sprintf(`{"seq":%d,"aggregate":"order-%03d","note":"Zoë 北京 ✓"}`, i, a),
	}
	if i%3 == 1 {
		e.Timestamp = e.Timestamp.In(plus8)
	}
	if i%2 == 0 {
		e.TraceID = fmt.Sprintf("trace-%d", i)
	}
	if i%5 != 0 {
		e.CorrelationID = fmt.Sprintf("corr-%03d", a)
	}
	switch {
	case i%4 == 0:
	case i%4 == 3 && s.StringTenants:
		e.TenantString = fmt.Sprintf("tenant-%03d", a)
	default:
		e.TenantNumber = a + 1
	}
	return e
}

// Body is the message body a Go service sends for envelope i: the v1.7.5
// struct, or the legacy one for a string tenant, marshalled as the SDK does.
func (e Expected) Body() ([]byte, error) {
	if e.TenantString != "" {
		legacy := LegacyEnvelope{
			EventID: e.EventID, AggregateID: e.AggregateID, EventType: e.EventType,
			EventVersion: e.EventVersion, Timestamp: e.Timestamp, TraceID: e.TraceID,
			CorrelationID: e.CorrelationID, TenantID: e.TenantString,
			Payload: []byte(e.Payload),
		}
		return sdkJSON.Marshal(&legacy)
	}
	return e.SDKEnvelope().ToBytes()
}

// SDKEnvelope is envelope i as the v1.7.5 struct.
func (e Expected) SDKEnvelope() *Envelope {
	return &Envelope{
		EventID: e.EventID, AggregateID: e.AggregateID, EventType: e.EventType,
		EventVersion: e.EventVersion, Timestamp: e.Timestamp, TraceID: e.TraceID,
		CorrelationID: e.CorrelationID, TenantID: e.TenantNumber,
		Payload: []byte(e.Payload),
	}
}

// Checker checks what a Go consumer receives: all of it, each aggregate in
// order, every field equal.
type Checker struct {
	spec     Spec
	byID     map[string]int
	seen     map[string]bool
	last     map[string]int64
	Summary  Summary
	complete int
}

// Summary is what a Go command prints, as one JSON line, for the Rust test
// to assert on.
type Summary struct {
	Command        string `json:"command"`
	WireForm       string `json:"wire_form"`
	Published      int    `json:"published,omitempty"`
	Received       int    `json:"received,omitempty"`
	Distinct       int    `json:"distinct,omitempty"`
	Aggregates     int    `json:"aggregates"`
	Duplicates     int    `json:"duplicates"`
	InvalidCount   int    `json:"invalid"`
	OrderViolation int    `json:"order_violations"`
	FieldMismatch  int    `json:"field_mismatches"`
	// Partitions maps an aggregate to the Kafka partition its envelopes
	// were written to (producer) or read from (consumer).
	Partitions        map[string]int32 `json:"partitions,omitempty"`
	PartitionMismatch int              `json:"partition_mismatches"`
	// Errors lists the first problems found, for the test's failure message.
	Errors []string `json:"errors,omitempty"`
}

// WireForm says which Go code produced or consumed the messages.
const WireForm = "rebuilt from jxt-core v1.7.5 source (the module proxy does not serve the module)"

func newChecker(command string, spec Spec) *Checker {
	c := &Checker{
		spec: spec, byID: map[string]int{}, seen: map[string]bool{}, last: map[string]int64{},
		Summary: Summary{Command: command, WireForm: WireForm, Aggregates: spec.Aggregates,
			Partitions: map[string]int32{}},
	}
	for i := 0; i < spec.Count; i++ {
		c.byID[spec.Envelope(i).EventID] = i
	}
	return c
}

func (c *Checker) fail(format string, args ...any) {
	if len(c.Summary.Errors) < 20 {
		c.Summary.Errors = append(c.Summary.Errors, fmt.Sprintf(format, args...))
	}
}

// Receive checks one message body; it returns whether every expected
// envelope has now arrived.
func (c *Checker) Receive(body []byte) bool {
	c.Summary.Received++
	env, err := FromBytes(body)
	if err != nil {
		c.Summary.InvalidCount++
		c.fail("Validate failed: %v: %s", err, body)
		return c.Done()
	}
	i, known := c.byID[env.EventID]
	if !known {
		c.Summary.FieldMismatch++
		c.fail("unknown event id %q", env.EventID)
		return c.Done()
	}
	if c.seen[env.EventID] {
		c.Summary.Duplicates++
		return c.Done()
	}
	c.seen[env.EventID] = true
	c.Summary.Distinct++
	want := c.spec.Envelope(i)
	if !sameFields(env, want) {
		c.Summary.FieldMismatch++
		c.fail("envelope %d: got %+v (payload %s), want %+v", i, *env, env.Payload, want)
	}
	if last, ok := c.last[env.AggregateID]; ok && env.EventVersion != last+1 ||
		!ok && env.EventVersion != c.spec.FirstVersion {
		c.Summary.OrderViolation++
		c.fail("aggregate %s: version %d after %d", env.AggregateID, env.EventVersion, c.last[env.AggregateID])
	}
	c.last[env.AggregateID] = env.EventVersion
	return c.Done()
}

// Done reports whether every expected envelope has arrived.
func (c *Checker) Done() bool { return c.Summary.Distinct == c.spec.Count }

func sameFields(got *Envelope, want Expected) bool {
	return got.EventID == want.EventID && got.AggregateID == want.AggregateID &&
		got.EventType == want.EventType && got.EventVersion == want.EventVersion &&
		got.Timestamp.Equal(want.Timestamp) && got.TraceID == want.TraceID &&
		got.CorrelationID == want.CorrelationID && got.TenantID == want.TenantNumber &&
		want.TenantString == "" && string(got.Payload) == want.Payload
}
