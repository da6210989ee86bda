package lifecycle

import (
	"sync"
	"time"
)

// cache keeps values for a short time. The Manager puts in it what every
// request reads and what rarely changes: tokens, memberships, services and
// CAs. Changes made through this Manager drop what they touch at once;
// changes made by another replica show here within the time to live, which
// bounds how long a revoked token or a removed member keeps working there.
type cache[K comparable, V any] struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[K]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

func newCache[K comparable, V any](ttl time.Duration, max int) *cache[K, V] {
	return &cache[K, V]{ttl: ttl, max: max, m: map[K]cacheEntry[V]{}}
}

// get returns the value of k if it is there and fresh at now.
func (c *cache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under k until now plus the time to live.
func (c *cache[K, V]) put(k K, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m) // rare: a flood of distinct keys; start over rather than track recency
	}
	c.m[k] = cacheEntry[V]{v: v, expires: now.Add(c.ttl)}
}

// drop forgets k.
func (c *cache[K, V]) drop(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// reset forgets everything.
func (c *cache[K, V]) reset() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
