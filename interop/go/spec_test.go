package main

import (
	"strings"
	"testing"
)

// Every envelope of a run survives the SDK's own marshal/unmarshal, except
// the legacy string tenants, which a v1.7.5 consumer cannot read: the
// reason evbus publishes numeric tenants to Go consumers.
func TestBodiesRoundTripThroughTheSDKForm(t *testing.T) {
	spec := Spec{Count: 400, Aggregates: 100, FirstVersion: 1, IDPrefix: "00000000", StringTenants: true}
	for i := 0; i < spec.Count; i++ {
		want := spec.Envelope(i)
		body, err := want.Body()
		if err != nil {
			t.Fatalf("envelope %d: %v", i, err)
		}
		got, err := FromBytes(body)
		if want.TenantString != "" {
			if err == nil || !strings.Contains(err.Error(), "tenant_id") {
				t.Fatalf("envelope %d: a string tenant must not parse as v1.7.5: %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("envelope %d: %v", i, err)
		}
		if !sameFields(got, want) {
			t.Fatalf("envelope %d: got %+v, want %+v", i, *got, want)
		}
	}
}

// The consumer's checks catch what they claim to catch.
func TestCheckerFlagsBadDeliveries(t *testing.T) {
	spec := Spec{Count: 4, Aggregates: 2, FirstVersion: 1, IDPrefix: "00000000"}
	body := func(i int, edit func(*Envelope)) []byte {
		env := spec.Envelope(i).SDKEnvelope()
		edit(env)
		data, err := sdkJSON.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	keep := func(*Envelope) {}
	c := newChecker("test", spec)
	c.Receive(body(2, keep))                                        // aggregate 0, v2 before v1
	c.Receive(body(1, func(e *Envelope) { e.TenantID = 99 }))       // altered field
	c.Receive(body(1, keep))                                        // duplicate
	c.Receive(body(3, func(e *Envelope) { e.Payload = nil }))       // fails Validate
	c.Receive(body(0, func(e *Envelope) { e.EventID = "unknown" })) // not sent
	s := c.Summary
	if s.OrderViolation != 1 || s.FieldMismatch != 2 || s.Duplicates != 1 || s.InvalidCount != 1 {
		t.Fatalf("checker missed something: %+v", s)
	}
	if c.Done() {
		t.Fatal("done without every envelope")
	}
}
