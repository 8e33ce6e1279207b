package lease

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store for one process (tests, a single replica without a
// shared store): the same semantics as the store's lease table.
type Memory struct {
	mu     sync.Mutex
	leases map[string]memLease
}

type memLease struct {
	holder  string
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty lease table.
func NewMemory() *Memory { return &Memory{leases: map[string]memLease{}} }

// AcquireLease takes or renews name for holder when it is free, expired or
// held by holder.
func (m *Memory) AcquireLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if l, ok := m.leases[name]; ok && l.holder != holder && now.Before(l.expires) {
		return false, nil
	}
	m.leases[name] = memLease{holder: holder, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseLease frees name if holder has it.
func (m *Memory) ReleaseLease(_ context.Context, name, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; ok && l.holder == holder {
		delete(m.leases, name)
	}
	return nil
}
