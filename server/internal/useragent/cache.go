package useragent

import "sync"

// lruNode is one cache entry in the recency list.
type lruNode struct {
	key        string
	agent      Agent
	prev, next *lruNode
}

// lru is a fixed-size least-recently-used cache from User-Agent to Agent,
// safe for concurrent use. A single mutex is enough: a hit holds it for about
// one map lookup, far below the cost of anything else on the request path.
type lru struct {
	mu    sync.Mutex
	size  int
	items map[string]*lruNode
	// head is a sentinel: head.next is the most recently used entry and
	// head.prev the least recently used.
	head lruNode
}

// newLRU returns a cache holding at most size entries.
func newLRU(size int) *lru {
	c := &lru{size: size, items: make(map[string]*lruNode, size)}
	c.head.next, c.head.prev = &c.head, &c.head
	return c
}

// get returns the cached Agent for key and marks it recently used.
func (c *lru) get(key string) (Agent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.items[key]
	if !ok {
		return Agent{}, false
	}
	c.unlink(n)
	c.pushFront(n)
	return n.agent, true
}

// add stores agent under key, evicting the least recently used entry when
// the cache is full. The caller must pass a key it will not modify.
func (c *lru) add(key string, agent Agent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.items[key]; ok {
		n.agent = agent
		c.unlink(n)
		c.pushFront(n)
		return
	}
	var n *lruNode
	if len(c.items) >= c.size {
		// Reuse the oldest node rather than allocating a new one.
		n = c.head.prev
		c.unlink(n)
		delete(c.items, n.key)
	} else {
		n = new(lruNode)
	}
	n.key, n.agent = key, agent
	c.items[key] = n
	c.pushFront(n)
}

// len returns the number of cached entries.
func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *lru) unlink(n *lruNode) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (c *lru) pushFront(n *lruNode) {
	n.prev, n.next = &c.head, c.head.next
	c.head.next.prev = n
	c.head.next = n
}
