package main

// Golden vectors for evbus's `go_json` codec, written by Go itself.
//
// For each case, into the output directory:
//   <name>.json      encoding/json's bytes (what evbus's codec promises to
//                    write, byte for byte);
//   <name>.utc.json  the same envelope with its time in UTC, written only when
//                    the time has another offset: evbus keeps UTC, so this is
//                    what re-encoding must give;
//   <name>.sdk.json  the bytes the SDK itself writes (jsoniter), written only
//                    when they differ from encoding/json's: jsoniter copies
//                    the raw payload without compacting or escaping it;
//   manifest.json    every case with its fields, for the Rust test to compare
//                    decoded envelopes against.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

type vectorCase struct {
	name string
	env  Envelope
	// legacyTenant, when set, writes the pre-v1.1.38 struct with this tenant.
	legacyTenant string
}

// VectorFields is a case's expected fields in manifest.json.
type VectorFields struct {
	EventID            string `json:"event_id"`
	AggregateID        string `json:"aggregate_id"`
	EventType          string `json:"event_type"`
	EventVersion       int64  `json:"event_version"`
	TimestampUnixNanos int64  `json:"timestamp_unix_nanos"`
	TraceID            string `json:"trace_id,omitempty"`
	CorrelationID      string `json:"correlation_id,omitempty"`
	TenantNumber       int    `json:"tenant_number,omitempty"`
	TenantString       string `json:"tenant_string,omitempty"`
	Payload            string `json:"payload"`
}

// VectorEntry is one case in manifest.json.
type VectorEntry struct {
	Name      string `json:"name"`
	Struct    string `json:"struct"`
	File      string `json:"file"`
	Canonical string `json:"canonical"`
	SDK       string `json:"sdk,omitempty"`
	// SDKPayload is the payload as the .sdk.json file carries it.
	SDKPayload string       `json:"sdk_payload,omitempty"`
	Fields     VectorFields `json:"fields"`
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func vectorCases() []vectorCase {
	full := Envelope{EventID: "0190c3a4-7b2e-7cc1-9f3a-2b5d8e1f4a6c", AggregateID: "order-42",
		EventType: "order.created", EventVersion: 3, Timestamp: at("2024-07-01T12:34:56.123456789Z"),
		TraceID: "trace-1", CorrelationID: "corr-1", TenantID: 42,
		Payload: []byte(`{"total":10,"items":["a","b"]}`)}
	with := func(f func(*Envelope)) Envelope { e := full; f(&e); return e }
	return []vectorCase{
		{name: "full_numeric_tenant", env: full},
		{name: "optional_fields_omitted", env: with(func(e *Envelope) {
			e.AggregateID, e.TraceID, e.CorrelationID, e.TenantID = "cart:7/x_y.z-1", "", "", 0
			e.Timestamp = at("2024-07-01T12:34:56Z")
		})},
		{name: "nanoseconds_trailing_zeros_trimmed", env: with(func(e *Envelope) {
			e.Timestamp = at("2000-01-01T00:00:00.000120Z")
		})},
		{name: "nanoseconds_single_digit", env: with(func(e *Envelope) {
			e.Timestamp = at("2024-07-01T12:34:56.000000001Z")
		})},
		{name: "offset_plus_0800", env: with(func(e *Envelope) {
			e.Timestamp = at("2024-07-01T20:34:56.5+08:00")
		})},
		{name: "offset_plus_0800_crossing_midnight", env: with(func(e *Envelope) {
			e.Timestamp = at("2024-07-02T07:59:59.999999999+08:00")
		})},
		{name: "offset_minus_0330", env: with(func(e *Envelope) {
			e.Timestamp = at("2024-07-01T09:04:56.25-03:30")
		})},
		{name: "html_characters_and_line_separators", env: with(func(e *Envelope) {
			e.EventType = "a<b>&c"
			e.TraceID = "line\u2028sep\u2029"
			e.CorrelationID = "tab\there\nquote\"back\\slash\u0001"
			e.Payload = []byte("{\"html\":\"<tag>&amp;\",\"sep\":\"\u2028\u2029\"}")
		})},
		{name: "unicode_payload_and_type", env: with(func(e *Envelope) {
			e.EventType = "订单.已创建"
			e.Payload = []byte(`{"name":"Zoë","city":"北京","emoji":"😀","escaped":"\u00e9"}`)
		})},
		{name: "payload_with_whitespace", env: with(func(e *Envelope) {
			e.Payload = []byte(" {\n  \"a\" : [ 1 , \"x y\" ],\t\"b\":{} } ")
		})},
		{name: "payload_array", env: with(func(e *Envelope) { e.Payload = []byte(`[1,2,3]`) })},
		{name: "payload_string", env: with(func(e *Envelope) { e.Payload = []byte(`"héllo ✓"`) })},
		{name: "payload_number", env: with(func(e *Envelope) { e.Payload = []byte(`-1.250e-7`) })},
		{name: "payload_true", env: with(func(e *Envelope) { e.Payload = []byte(`true`) })},
		{name: "largest_numbers", env: with(func(e *Envelope) {
			e.EventVersion = 9007199254740993
			e.TenantID = 9223372036854775807
		})},
		{name: "string_tenant_before_v1_1_38", env: with(func(e *Envelope) { e.TenantID = 0 }),
			legacyTenant: "acme"},
		{name: "string_tenant_numeric_text", env: with(func(e *Envelope) { e.TenantID = 0 }),
			legacyTenant: "007"},
	}
}

// stdEnvelope is the SDK's struct as the readers take it: its payload
// a json.RawMessage, which encoding/json embeds as JSON. (The SDK's own
// field is a jsoniter.RawMessage, a plain []byte to encoding/json, which
// would write it as base64; only jsoniter embeds it.)
type stdEnvelope struct {
	EventID       string          `json:"event_id"`
	AggregateID   string          `json:"aggregate_id"`
	EventType     string          `json:"event_type"`
	EventVersion  int64           `json:"event_version"`
	Timestamp     time.Time       `json:"timestamp"`
	TraceID       string          `json:"trace_id,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	TenantID      any             `json:"tenant_id,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

// marshalStd writes the case with encoding/json.
func (c vectorCase) marshalStd(env Envelope) ([]byte, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	std := stdEnvelope{EventID: env.EventID, AggregateID: env.AggregateID,
		EventType: env.EventType, EventVersion: env.EventVersion, Timestamp: env.Timestamp,
		TraceID: env.TraceID, CorrelationID: env.CorrelationID, Payload: json.RawMessage(env.Payload)}
	// The `any` holds the tenant in its struct's type, so omitempty still
	// omits the zero value of that type.
	if c.legacyTenant != "" {
		std.TenantID = c.legacyTenant
	} else if env.TenantID != 0 {
		std.TenantID = env.TenantID
	}
	return json.Marshal(&std)
}

// marshalSDK writes the case as the SDK does: its struct, jsoniter.
func (c vectorCase) marshalSDK(env Envelope) ([]byte, error) {
	if c.legacyTenant != "" {
		legacy := LegacyEnvelope{EventID: env.EventID, AggregateID: env.AggregateID,
			EventType: env.EventType, EventVersion: env.EventVersion, Timestamp: env.Timestamp,
			TraceID: env.TraceID, CorrelationID: env.CorrelationID, TenantID: c.legacyTenant,
			Payload: env.Payload}
		return sdkJSON.Marshal(&legacy)
	}
	return env.ToBytes()
}

func writeVectors(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var manifest []VectorEntry
	for _, c := range vectorCases() {
		std, err := c.marshalStd(c.env)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		entry := VectorEntry{Name: c.name, Struct: "v1.7.5", File: c.name + ".json",
			Canonical: c.name + ".json"}
		if c.legacyTenant != "" {
			entry.Struct = "v1.1.22-v1.1.37"
		}
		files := map[string][]byte{entry.File: std}
		if _, offset := c.env.Timestamp.Zone(); offset != 0 {
			utc := c.env
			utc.Timestamp = utc.Timestamp.UTC()
			if files[c.name+".utc.json"], err = c.marshalStd(utc); err != nil {
				return err
			}
			entry.Canonical = c.name + ".utc.json"
		}
		sdk, err := c.marshalSDK(c.env)
		if err != nil {
			return err
		}
		if !bytes.Equal(sdk, std) {
			entry.SDK = c.name + ".sdk.json"
			files[entry.SDK] = sdk
		}
		// The payload as each file carries it: a RawMessage reads back the
		// bytes written, which encoding/json compacted and escaped.
		payloadOf := func(data []byte) (string, error) {
			var raw struct {
				Payload json.RawMessage `json:"payload"`
			}
			err := json.Unmarshal(data, &raw)
			return string(raw.Payload), err
		}
		entry.Fields = VectorFields{EventID: c.env.EventID, AggregateID: c.env.AggregateID,
			EventType: c.env.EventType, EventVersion: c.env.EventVersion,
			TimestampUnixNanos: c.env.Timestamp.UnixNano(), TraceID: c.env.TraceID,
			CorrelationID: c.env.CorrelationID, TenantNumber: c.env.TenantID,
			TenantString: c.legacyTenant}
		if entry.Fields.Payload, err = payloadOf(std); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if entry.SDK != "" {
			if entry.SDKPayload, err = payloadOf(sdk); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				return err
			}
		}
		manifest = append(manifest, entry)
	}
	data, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "manifest.json"), append(data, '\n'), 0o644)
}
