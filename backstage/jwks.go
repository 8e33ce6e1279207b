package backstage

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxJWKSBytes caps a JWKS response: a Backstage JWKS holds a handful of
// keys, so anything near this size is broken or hostile.
const maxJWKSBytes = 256 << 10

// jwksClockMargin is how much earlier than a set's fetch a token may say it
// was issued and still make an unknown kid refetch the set: the issuer's
// clock may run behind, and iat has whole seconds. Backstage's JwksClient
// uses the same 10 s (CLOCK_MARGIN_S).
const jwksClockMargin = 10 * time.Second

var (
	errUnknownKID    = errors.New("unknown signing key")
	errJWKSFetch     = errors.New("signing keys unavailable")
	errJWKSMalformed = errors.New("malformed JWKS")
)

// jwk is one key of a JWKS; only the EC P-256 fields matter to paved.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// keySet is one parsed JWKS. It is immutable once published, so the hot path
// reads it without locks.
type keySet struct {
	keys      map[string]*ecdsa.PublicKey
	fetchedAt time.Time
}

// jwksSource is the cached JWKS of one URL.
type jwksSource struct {
	url     string
	current atomic.Pointer[keySet]
	// mu serialises fetches, so a burst of tokens with an unknown kid
	// causes one request, not one per token.
	mu          sync.Mutex
	lastAttempt time.Time // guarded by mu
}

// jwksCache holds the JWKS of every URL paved verifies tokens against.
type jwksCache struct {
	client       *http.Client
	fetchTimeout time.Duration
	minRefetch   time.Duration
	maxAge       time.Duration
	now          func() time.Time
	after        func(time.Duration) <-chan time.Time // time.After, but for tests
	log          *slog.Logger
	sourcesMu    sync.RWMutex
	sources      map[string]*jwksSource
}

func (c *jwksCache) source(url string) *jwksSource {
	c.sourcesMu.RLock()
	s, ok := c.sources[url]
	c.sourcesMu.RUnlock()
	if ok {
		return s
	}
	c.sourcesMu.Lock()
	defer c.sourcesMu.Unlock()
	if s, ok = c.sources[url]; !ok {
		s = &jwksSource{url: url}
		c.sources[url] = s
	}
	return s
}

// key returns the public key kid of the JWKS at url, for a token issued at
// issuedAt. A known kid never waits on the network: a stale set is refreshed
// in the background and the cached key keeps working while the endpoint is
// down.
//
// An unknown kid is how a rotated key first shows up, so it refetches the set
// when the token was issued after the set was fetched (less the clock
// margin), the rule of Backstage's own JwksClient: an issuer publishes a key
// before it signs with it, so a set fetched later than the token already has
// it. Fetches of one set start at least minRefetch apart; a token that needs
// one sooner waits for it (bounded by its context) rather than being
// refused, and callers that arrive while a fetch is due share it. A burst of
// forged kids thus costs at most one fetch per minRefetch, and a token signed
// right after a rotation is accepted at once.
func (c *jwksCache) key(ctx context.Context, url, kid string, issuedAt time.Time) (*ecdsa.PublicKey, error) {
	s := c.source(url)
	if set := s.current.Load(); set != nil {
		if k, ok := set.keys[kid]; ok {
			if c.now().Sub(set.fetchedAt) > c.maxAge && s.mu.TryLock() {
				go func() {
					defer s.mu.Unlock()
					c.refreshLocked(context.Background(), s) // outlives the request on purpose
				}()
			}
			return k, nil
		}
	}

	arrived := c.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.current.Load()
	if set != nil {
		if k, ok := set.keys[kid]; ok {
			return k, nil
		}
		// A fetch that started after this caller arrived has answered for it;
		// and a token issued before the set was fetched names a key the set
		// would have had.
		if !s.lastAttempt.Before(arrived) || issuedAt.Before(set.fetchedAt.Add(-jwksClockMargin)) {
			return nil, errUnknownKID
		}
		if wait := c.minRefetch - c.now().Sub(s.lastAttempt); wait > 0 {
			select {
			case <-c.after(wait):
			case <-ctx.Done():
				return nil, errUnknownKID
			}
		}
	} else if !s.lastAttempt.IsZero() && c.now().Sub(s.lastAttempt) < c.minRefetch {
		// The endpoint failed a moment ago and no set was ever fetched:
		// answer at once rather than queue every request behind it.
		return nil, errJWKSFetch
	}
	if err := c.refreshLocked(ctx, s); err != nil && s.current.Load() == nil {
		return nil, errJWKSFetch
	}
	if k, ok := s.current.Load().keys[kid]; ok {
		return k, nil
	}
	return nil, errUnknownKID
}

// refreshLocked fetches the JWKS of s; the caller holds s.mu. A failed fetch
// keeps the previous keys.
func (c *jwksCache) refreshLocked(ctx context.Context, s *jwksSource) error {
	s.lastAttempt = c.now()
	keys, err := c.fetch(ctx, s.url)
	if err != nil {
		c.log.Warn("fetch JWKS", "url", s.url, "err", err)
		return err
	}
	s.current.Store(&keySet{keys: keys, fetchedAt: c.now()})
	return nil
}

func (c *jwksCache) fetch(ctx context.Context, url string) (map[string]*ecdsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS endpoint answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS keeps the ES256 keys of a JWKS and skips the others, since a set
// may legitimately publish keys paved never accepts.
func parseJWKS(body []byte) (map[string]*ecdsa.PublicKey, error) {
	var set jwkSet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%w: %v", errJWKSMalformed, err)
	}
	if set.Keys == nil {
		return nil, fmt.Errorf("%w: no keys", errJWKSMalformed)
	}
	keys := make(map[string]*ecdsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		pub, err := k.publicKey()
		if err != nil || k.Kid == "" {
			continue
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}

func (k jwk) publicKey() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") || (k.Use != "" && k.Use != "sig") {
		return nil, errors.New("not an ES256 key")
	}
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad coordinates")
	}
	point := make([]byte, 0, 65)
	point = append(point, 4)
	point = append(point, x...)
	point = append(point, y...)
	// ParseUncompressedPublicKey rejects points off the curve.
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
}
