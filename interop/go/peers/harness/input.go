package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Envelope is one input line: its exact bytes, the fields publishing needs,
// and what the peer's Prepare made of it.
type Envelope struct {
	Body        []byte
	EventID     string
	AggregateID string
	Prepared    any
}

// ReadInput reads one envelope per non-empty line and counts the distinct
// aggregates.
func ReadInput(path string) ([]Envelope, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var out []Envelope
	seen := make(map[string]struct{})
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 {
			e, perr := parse(line)
			if perr != nil {
				return nil, 0, fmt.Errorf("line %d: %w", n, perr)
			}
			out = append(out, e)
			seen[e.AggregateID] = struct{}{}
		}
		if err != nil { // io.EOF
			return out, len(seen), nil
		}
	}
}

func parse(line []byte) (Envelope, error) {
	var fields struct {
		EventID     string `json:"event_id"`
		AggregateID string `json:"aggregate_id"`
	}
	if err := json.Unmarshal(line, &fields); err != nil {
		return Envelope{}, err
	}
	if fields.EventID == "" || fields.AggregateID == "" {
		return Envelope{}, errors.New("no event_id or aggregate_id")
	}
	return Envelope{Body: line, EventID: fields.EventID, AggregateID: fields.AggregateID}, nil
}

// warmupEnvelope is the uncounted envelope of aggregate WarmupAggregate,
// in the same JSON form as the input's.
func warmupEnvelope() (*Envelope, error) {
	id := fmt.Sprintf("warmup-%d", time.Now().UnixNano())
	body, err := json.Marshal(struct {
		EventID      string          `json:"event_id"`
		AggregateID  string          `json:"aggregate_id"`
		EventType    string          `json:"event_type"`
		EventVersion int64           `json:"event_version"`
		Timestamp    time.Time       `json:"timestamp"`
		Payload      json.RawMessage `json:"payload"`
	}{id, WarmupAggregate, "Warmup", 1, time.Now().UTC(), json.RawMessage(`{}`)})
	if err != nil {
		return nil, err
	}
	e, err := parse(body)
	return &e, err
}
