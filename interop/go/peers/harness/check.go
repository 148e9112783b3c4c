package harness

import "sync"

// checker is the per-aggregate order check, the same logic as the Rust
// harness's sink so that both sides' tallies mean the same thing.
type checker struct {
	mu         sync.Mutex
	last       map[string]int64 // aggregate -> highest version seen (0: none)
	want       uint64           // handled count that closes done
	done       chan struct{}
	handled    uint64
	distinct   uint64
	duplicates uint64
	violations uint64
}

func newChecker(want uint64) *checker {
	c := &checker{last: make(map[string]int64), want: want, done: make(chan struct{})}
	if want == 0 {
		close(c.done)
	}
	return c
}

// observe records one handled message (first delivery or not).
func (c *checker) observe(aggregate string, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handled++
	last := c.last[aggregate]
	if version <= last {
		c.duplicates++
	} else {
		if version > last+1 {
			c.violations++
		}
		c.last[aggregate] = version
		c.distinct++
	}
	if c.handled == c.want {
		close(c.done)
	}
}

// tally is the JSON line the harness reads.
type tally struct {
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Handled    uint64  `json:"handled"`
	Distinct   uint64  `json:"distinct"`
	Duplicates uint64  `json:"duplicates"`
	Violations uint64  `json:"violations"`
	Lost       uint64  `json:"lost"`
	TimedOut   bool    `json:"timed_out"`
}

// snapshot reads the counters; n is the number of envelopes published.
func (c *checker) snapshot(n uint64) tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := tally{Handled: c.handled, Distinct: c.distinct, Duplicates: c.duplicates, Violations: c.violations}
	if n > c.distinct {
		t.Lost = n - c.distinct
	}
	return t
}
