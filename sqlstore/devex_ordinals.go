package sqlstore

import "sync"

// ordinalCache remembers the numbers the store gave users in devex_users.
// A number, once committed, never changes (rows there are neither updated
// nor deleted), so a remembered one saves a lookup on every later batch; a
// user it does not know is looked up in the store as before.
type ordinalCache struct {
	mu sync.RWMutex
	m  map[string]int64
}

// maxRememberedUsers bounds the cache (about 100 bytes a user); users
// beyond it are looked up in the store.
const maxRememberedUsers = 100_000

func (db *DB) ordinals() *ordinalCache { return &db.users }

func (c *ordinalCache) get(user string) (int64, bool) {
	c.mu.RLock()
	n, ok := c.m[user]
	c.mu.RUnlock()
	return n, ok
}

// remember keeps committed numbers.
func (c *ordinalCache) remember(committed map[string]int64) {
	if len(committed) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]int64, len(committed))
	}
	for user, n := range committed {
		if len(c.m) >= maxRememberedUsers {
			return
		}
		c.m[user] = n
	}
}
