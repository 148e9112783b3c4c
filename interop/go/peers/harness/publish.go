package harness

import (
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
)

// publishAll publishes every envelope with `workers` goroutines: an
// aggregate always goes to the same worker (FNV-1a of its id), and each
// worker publishes its envelopes one by one in input order, so every
// aggregate's versions reach the library in order.
func publishAll(peer Peer, envelopes []Envelope, workers int) error {
	queues := make([][]*Envelope, workers)
	for i := range envelopes {
		h := fnv.New32a()
		h.Write([]byte(envelopes[i].AggregateID))
		w := h.Sum32() % uint32(workers)
		queues[w] = append(queues[w], &envelopes[i])
	}
	var (
		wg       sync.WaitGroup
		failed   atomic.Bool
		firstErr error
		errOnce  sync.Once
	)
	for _, queue := range queues {
		wg.Go(func() {
			for _, e := range queue {
				if failed.Load() {
					return
				}
				if err := peer.Publish(e); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("event %s: %w", e.EventID, err) })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
