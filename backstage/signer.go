package backstage

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-dev/paved"
)

// KeyStore keeps paved's signing keys, shared by every replica.
type KeyStore interface {
	AddSigningKey(ctx context.Context, k paved.SigningKey) error
	// SigningKeys returns every stored key, newest first.
	SigningKeys(ctx context.Context) ([]paved.SigningKey, error)
	// RetireSigningKeys sets RetiredAt=at on every key that is not retired
	// yet and was created before exceptKID, so that of concurrent rotations
	// the newest key stays active.
	RetireSigningKeys(ctx context.Context, exceptKID string, at time.Time) error
	DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int, error)
	// ReplaceSigningKeyPrivate sets the stored private key of kid to next
	// when it is still prev, and reports whether it did.
	ReplaceSigningKeyPrivate(ctx context.Context, kid string, prev, next []byte) (bool, error)
}

// KeySealer encrypts private keys at rest (infra.Sealer does, with AES-GCM).
type KeySealer interface {
	Seal(plain, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// sealedPrefix marks a stored private key sealed by a KeySealer; a stored key
// without it is a clear PEM from before keys were sealed.
var sealedPrefix = []byte("paved-sealed-v1:")

// SignerOption configures a Signer.
type SignerOption func(*Signer)

// WithKeySealer seals private keys in the store: new keys are stored sealed,
// and keys stored in clear by an older paved are sealed when the Signer starts.
func WithKeySealer(k KeySealer) SignerOption { return func(s *Signer) { s.sealer = k } }

// publishGrace keeps a retired key in the JWKS a little past the life of
// its last token: a replica that read the store just before another one
// rotated may still sign one token with the old key.
const publishGrace = time.Minute

// Signer signs the plugin tokens paved sends to Backstage and publishes their
// public keys, like a Backstage backend plugin does. Keys live in the store,
// so replicas share them; each mint reads the active key from the store,
// which costs one query per audience per half token life.
type Signer struct {
	store    KeyStore
	pluginID string
	ttl      time.Duration
	now      func() time.Time
	sealer   KeySealer

	mu     sync.Mutex
	parsed map[string]*ecdsa.PrivateKey // by kid; keys never change once stored
	tokens map[string]signedToken       // by audience
}

type signedToken struct {
	token     string
	refreshAt time.Time
}

// NewSigner returns a Signer for pluginID whose tokens live tokenTTL
// (Backstage's own default is one hour). It loads the newest active key, or
// creates one when the store has none.
func NewSigner(ctx context.Context, store KeyStore, pluginID string, tokenTTL time.Duration, opts ...SignerOption) (*Signer, error) {
	if !ValidPluginID(pluginID) {
		return nil, errors.New("backstage: signer needs a valid plugin id")
	}
	if tokenTTL <= 0 {
		return nil, errors.New("backstage: signer needs a positive token TTL")
	}
	s := &Signer{
		store:    store,
		pluginID: pluginID,
		ttl:      tokenTTL,
		now:      time.Now,
		parsed:   make(map[string]*ecdsa.PrivateKey),
		tokens:   make(map[string]signedToken),
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.sealStored(ctx); err != nil {
		return nil, err
	}
	if _, _, err := s.activeKey(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// PluginToken returns a token that lets paved call the Backstage plugin
// audience (for example "catalog"). Tokens are reused until half their life
// has passed, so a long request started with one never sees it expire.
func (s *Signer) PluginToken(ctx context.Context, audience string) (string, error) {
	if !ValidPluginID(audience) {
		return "", paved.Errorf(paved.EInvalid, "invalid target plugin id %q", audience)
	}
	now := s.now()
	s.mu.Lock()
	t, ok := s.tokens[audience]
	s.mu.Unlock()
	if ok && now.Before(t.refreshAt) {
		return t.token, nil
	}

	kid, key, err := s.activeKey(ctx)
	if err != nil {
		return "", err
	}
	iat := now.Truncate(time.Second)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
		Subject:   s.pluginID,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(iat.Add(s.ttl)),
	})
	tok.Header["typ"] = TypPlugin
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign plugin token: %w", err)
	}
	s.mu.Lock()
	s.tokens[audience] = signedToken{token: signed, refreshAt: iat.Add(s.ttl / 2)}
	s.mu.Unlock()
	return signed, nil
}

// JWKS returns the public keys Backstage verifies paved's tokens with: the
// active keys and the retired ones whose tokens may still be valid. It reads
// the store every time, so any replica publishes a key another one just
// created; callers cache the JWKS themselves.
// OnBehalfOfToken returns a token that lets paved call the Backstage plugin
// audience on behalf of a user, as Backstage's AuthService does with
// getPluginRequestToken({onBehalfOf}): a plugin token whose obo claim is the
// user's limited token, expiring no later than it. Not cached: paved's
// callers cache what they ask with it.
func (s *Signer) OnBehalfOfToken(ctx context.Context, audience, limitedUserToken string) (string, error) {
	if !ValidPluginID(audience) {
		return "", paved.Errorf(paved.EInvalid, "invalid target plugin id %q", audience)
	}
	jt, err := splitJWT(limitedUserToken)
	if err != nil {
		return "", paved.Errorf(paved.EUnauthenticated, "the user token to act on behalf of is malformed")
	}
	var oc struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(jt.payload, &oc); err != nil || oc.Exp == 0 {
		return "", paved.Errorf(paved.EUnauthenticated, "the user token to act on behalf of has no expiry")
	}
	kid, key, err := s.activeKey(ctx)
	if err != nil {
		return "", err
	}
	iat := s.now().Truncate(time.Second)
	exp := iat.Add(s.ttl)
	if oboExp := time.Unix(oc.Exp, 0); oboExp.Before(exp) {
		exp = oboExp
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, pluginClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   s.pluginID,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		OBO: limitedUserToken,
	})
	tok.Header["typ"] = TypPlugin
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign plugin token: %w", err)
	}
	return signed, nil
}

func (s *Signer) JWKS(ctx context.Context) ([]byte, error) {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	set := jwkSet{Keys: []jwk{}}
	cutoff := s.now().Add(-s.ttl - publishGrace)
	for _, k := range keys {
		if !k.RetiredAt.IsZero() && k.RetiredAt.Before(cutoff) {
			continue
		}
		priv, err := s.parse(k)
		if err != nil {
			return nil, err
		}
		pub, err := publicJWK(k.KID, &priv.PublicKey)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, pub)
	}
	return json.Marshal(set)
}

// Rotate creates a new active key, retires the others and deletes keys whose
// tokens have all expired. Tokens signed with the old key stay valid until
// they expire; this replica's cached tokens are dropped.
func (s *Signer) Rotate(ctx context.Context) (string, error) {
	k, err := s.createKey(ctx)
	if err != nil {
		return "", err
	}
	now := s.now()
	if err := s.store.RetireSigningKeys(ctx, k.KID, now); err != nil {
		return "", fmt.Errorf("retire signing keys: %w", err)
	}
	if _, err := s.store.DeleteSigningKeysRetiredBefore(ctx, now.Add(-s.ttl-publishGrace)); err != nil {
		return "", fmt.Errorf("delete expired signing keys: %w", err)
	}
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
	return k.KID, nil
}

// activeKey returns the newest key that is not retired, creating one when
// there is none.
func (s *Signer) activeKey(ctx context.Context) (string, *ecdsa.PrivateKey, error) {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("load signing keys: %w", err)
	}
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			priv, err := s.parse(k)
			return k.KID, priv, err
		}
	}
	k, err := s.createKey(ctx)
	if err != nil {
		return "", nil, err
	}
	priv, err := s.parse(k)
	return k.KID, priv, err
}

func (s *Signer) createKey(ctx context.Context) (paved.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return paved.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return paved.SigningKey{}, err
	}
	k := paved.SigningKey{
		KID:           rand.Text(),
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		CreatedAt:     s.now(),
	}
	if s.sealer != nil {
		if k.PrivateKeyPEM, err = s.seal(k.KID, k.PrivateKeyPEM); err != nil {
			return paved.SigningKey{}, err
		}
	}
	if err := s.store.AddSigningKey(ctx, k); err != nil {
		return paved.SigningKey{}, fmt.Errorf("store signing key: %w", err)
	}
	s.mu.Lock()
	s.parsed[k.KID] = priv
	s.mu.Unlock()
	return k, nil
}

func (s *Signer) parse(k paved.SigningKey) (*ecdsa.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if priv, ok := s.parsed[k.KID]; ok {
		return priv, nil
	}
	plain, err := s.open(k)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(plain)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM private key", k.KID)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.KID, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key %s: not a P-256 key", k.KID)
	}
	s.parsed[k.KID] = priv
	return priv, nil
}

// sealStored seals the private keys an older paved stored in clear. Two
// replicas starting together both try; the compare-and-set keeps one result.
func (s *Signer) sealStored(ctx context.Context) error {
	if s.sealer == nil {
		return nil
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	for _, k := range keys {
		if bytes.HasPrefix(k.PrivateKeyPEM, sealedPrefix) {
			continue
		}
		sealed, err := s.seal(k.KID, k.PrivateKeyPEM)
		if err != nil {
			return err
		}
		if _, err := s.store.ReplaceSigningKeyPrivate(ctx, k.KID, k.PrivateKeyPEM, sealed); err != nil {
			return fmt.Errorf("seal signing key %s: %w", k.KID, err)
		}
	}
	return nil
}

// seal encrypts a private key PEM with the key id as additional data, so a
// sealed key copied to another row does not open.
func (s *Signer) seal(kid string, plain []byte) ([]byte, error) {
	sealed, err := s.sealer.Seal(plain, []byte("signing-key:"+kid))
	if err != nil {
		return nil, fmt.Errorf("seal signing key %s: %w", kid, err)
	}
	return append(append([]byte{}, sealedPrefix...), sealed...), nil
}

// open returns the PEM of a stored key, sealed or (from an older paved) clear.
func (s *Signer) open(k paved.SigningKey) ([]byte, error) {
	if !bytes.HasPrefix(k.PrivateKeyPEM, sealedPrefix) {
		return k.PrivateKeyPEM, nil
	}
	if s.sealer == nil {
		return nil, fmt.Errorf("signing key %s is sealed and paved has no key to open it", k.KID)
	}
	plain, err := s.sealer.Open(k.PrivateKeyPEM[len(sealedPrefix):], []byte("signing-key:"+k.KID))
	if err != nil {
		return nil, fmt.Errorf("signing key %s does not open with this infra key: every replica on one store needs the same infra.encryptionKey (PAVED_INFRA_KEY): %w", k.KID, err)
	}
	return plain, nil
}

func publicJWK(kid string, pub *ecdsa.PublicKey) (jwk, error) {
	point, err := pub.Bytes()
	if err != nil {
		return jwk{}, fmt.Errorf("signing key %s: %w", kid, err)
	}
	return jwk{
		Kty: "EC",
		Crv: "P-256",
		X:   base64.RawURLEncoding.EncodeToString(point[1:33]),
		Y:   base64.RawURLEncoding.EncodeToString(point[33:65]),
		Kid: kid,
		Alg: "ES256",
	}, nil
}
