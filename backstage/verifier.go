package backstage

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-dev/paved"
)

// Token types Backstage puts in the JWT header (@backstage/plugin-auth-node tokenTypes).
const (
	TypPlugin      = "vnd.backstage.plugin"
	TypUser        = "vnd.backstage.user"
	TypLimitedUser = "vnd.backstage.limited-user"
)

// Where Backstage publishes public keys: every plugin its own service keys,
// the auth plugin the keys of user tokens.
const (
	pluginJWKSPath = "/.backstage/auth/v1/jwks.json"
	authJWKSPath   = "/.well-known/jwks.json"
)

// maxTokenBytes bounds what paved decodes: real Backstage tokens are well
// under 4 KiB even with an obo token inside.
const maxTokenBytes = 16 << 10

// StaticToken is a token configured in paved for scripts and the CLI.
type StaticToken struct {
	Token   string
	Subject string
}

// VerifierConfig configures a Verifier. Zero durations take Backstage's own
// defaults (jose's remote JWKS settings).
type VerifierConfig struct {
	PluginID  string // paved's own plugin id: the required aud of plugin tokens
	Discovery *Discovery
	// AllowedPlugins may call paved with a plugin token; others get 403 (nil:
	// none). The default list is config's (backstage.allowedPlugins).
	AllowedPlugins []string
	StaticTokens   []StaticToken
	// AuthPluginID is the plugin whose JWKS signs user tokens; default "auth".
	AuthPluginID string
	HTTPClient   *http.Client
	// Leeway tolerates clock skew on exp, nbf and iat (zero: none). The
	// default is config's (auth.leeway).
	Leeway time.Duration
	// MinRefetchInterval spaces the fetches of one JWKS that tokens with an
	// unknown kid cause; a token that needs a fetch sooner waits for it.
	// Default 1s.
	MinRefetchInterval time.Duration
	// JWKSMaxAge is how long a fetched JWKS is used before a background
	// refresh; default 10m. A failed refresh keeps the cached keys.
	JWKSMaxAge time.Duration
	// FetchTimeout bounds one JWKS request; default 5s.
	FetchTimeout time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Verifier authenticates the Authorization header of requests to paved.
type Verifier struct {
	pluginID     string
	authPluginID string
	discovery    *Discovery
	allowed      map[string]bool
	static       []staticDigest
	leeway       time.Duration
	now          func() time.Time
	log          *slog.Logger
	jwks         *jwksCache
	validator    *jwt.Validator // for plugin tokens, which carry paved's aud
	userValid    *jwt.Validator // for user tokens, whose aud is Backstage's
	verified     verifiedCache  // tokens accepted as the caller
	verifiedOBO  verifiedCache  // user tokens accepted inside plugin tokens
}

type staticDigest struct {
	sum     [sha256.Size]byte
	subject string
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if !ValidPluginID(cfg.PluginID) {
		return nil, errors.New("backstage: verifier needs a valid plugin id")
	}
	if cfg.Discovery == nil {
		return nil, errors.New("backstage: verifier needs discovery")
	}
	if cfg.AuthPluginID == "" {
		cfg.AuthPluginID = "auth"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.MinRefetchInterval == 0 {
		cfg.MinRefetchInterval = time.Second
	}
	if cfg.JWKSMaxAge == 0 {
		cfg.JWKSMaxAge = 10 * time.Minute
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{
		pluginID:     cfg.PluginID,
		authPluginID: cfg.AuthPluginID,
		discovery:    cfg.Discovery,
		allowed:      make(map[string]bool, len(cfg.AllowedPlugins)),
		leeway:       cfg.Leeway,
		now:          cfg.Now,
		log:          cfg.Logger,
		jwks: &jwksCache{
			client:       cfg.HTTPClient,
			fetchTimeout: cfg.FetchTimeout,
			minRefetch:   cfg.MinRefetchInterval,
			maxAge:       cfg.JWKSMaxAge,
			now:          cfg.Now,
			after:        time.After,
			log:          cfg.Logger,
			sources:      make(map[string]*jwksSource),
		},
		validator: newPluginValidator(cfg.PluginID, cfg.Leeway, cfg.Now),
		userValid: jwt.NewValidator(jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(), jwt.WithLeeway(cfg.Leeway), jwt.WithTimeFunc(cfg.Now)),
		verified:    verifiedCache{entries: make(map[[sha256.Size]byte]verifiedEntry)},
		verifiedOBO: verifiedCache{entries: make(map[[sha256.Size]byte]verifiedEntry)},
	}
	for _, id := range cfg.AllowedPlugins {
		v.allowed[id] = true
	}
	for i, st := range cfg.StaticTokens {
		if len(st.Token) < 8 || strings.ContainsAny(st.Token, " \t\r\n") || st.Subject == "" {
			return nil, errors.New("backstage: static token " + strconv.Itoa(i) + " needs a subject and at least 8 characters without whitespace")
		}
		v.static = append(v.static, staticDigest{sum: sha256.Sum256([]byte(st.Token)), subject: st.Subject})
	}
	return v, nil
}

func newPluginValidator(aud string, leeway time.Duration, now func() time.Time) *jwt.Validator {
	return jwt.NewValidator(jwt.WithAudience(aud), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithLeeway(leeway), jwt.WithTimeFunc(now))
}

// Authenticate verifies the Authorization header of a request. A plugin that
// is not allowed gets EForbidden; every other failure is EUnauthenticated
// with a short reason that never contains the token.
func (v *Verifier) Authenticate(ctx context.Context, authorization string) (paved.Principal, error) {
	token, ok := bearerToken(authorization)
	if !ok {
		return paved.Principal{}, unauthenticated("missing bearer token")
	}
	if len(token) > maxTokenBytes {
		return paved.Principal{}, unauthenticated("token too large")
	}
	sum := sha256.Sum256([]byte(token))
	if p, ok := v.staticPrincipal(sum); ok {
		return p, nil
	}
	if p, ok := v.verified.get(sum, v.now()); ok {
		return p, nil
	}

	jt, err := splitJWT(token)
	if err != nil {
		return paved.Principal{}, unauthenticated("malformed token")
	}
	var (
		p   paved.Principal
		exp time.Time
	)
	switch jt.header.Typ {
	case TypPlugin:
		p, exp, err = v.verifyPlugin(ctx, jt)
	case TypUser:
		var u userClaims
		if u, err = v.verifyUser(ctx, jt, TypUser); err == nil {
			p = paved.Principal{Kind: paved.PrincipalUser, Subject: u.Subject, User: u.Subject, Groups: u.groups(), OnBehalfOf: limitedUserToken(jt, u)}
			exp = u.ExpiresAt.Time
		}
	case TypLimitedUser:
		// Backstage hands limited tokens to every plugin a user's request
		// passes through (as obo), so alone they prove nothing about the caller.
		err = unauthenticated("limited user tokens are only accepted inside a plugin token")
	default:
		err = unauthenticated("unsupported token type")
	}
	if err != nil {
		v.log.DebugContext(ctx, "token rejected", "typ", paved.Truncate(jt.header.Typ, 40), "err", err)
		return paved.Principal{}, err
	}
	v.verified.put(sum, p, exp, v.now())
	return p, nil
}

func (v *Verifier) staticPrincipal(sum [sha256.Size]byte) (paved.Principal, bool) {
	match := -1
	// Every configured token is compared so the timing says nothing about which one matched.
	for i := range v.static {
		if subtle.ConstantTimeCompare(sum[:], v.static[i].sum[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return paved.Principal{}, false
	}
	return paved.Principal{Kind: paved.PrincipalStatic, Subject: v.static[match].subject}, true
}

// pluginClaims are the claims of a Backstage plugin token.
type pluginClaims struct {
	jwt.RegisteredClaims
	OBO string `json:"obo,omitempty"`
}

// userClaims are the claims of a Backstage user or limited user token.
type userClaims struct {
	jwt.RegisteredClaims
	// Ent lists the entity refs the user owns through: the user and its groups.
	Ent []string `json:"ent,omitempty"`
	// UIP is the user identity proof: the signature of the limited user
	// token derived from this one.
	UIP string `json:"uip,omitempty"`
}

// limitedUserToken derives the limited user token of a verified user token
// the way Backstage's UserTokenHandler.createLimitedUserToken does (header
// typ limited-user with the same alg and kid, claims sub, iat and exp, the
// uip claim as signature), so paved can ask Backstage's permission backend
// on the user's behalf. A token without uip is passed as it is.
func limitedUserToken(jt jwtParts, u userClaims) string {
	if u.UIP == "" {
		return jt.signingInput + "." + base64.RawURLEncoding.EncodeToString(jt.signature)
	}
	// The uip signs these exact bytes: JSON.stringify's key order, no HTML escaping.
	var claims map[string]json.RawMessage
	_ = json.Unmarshal(jt.payload, &claims)
	h := jsonNoEscape(struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{TypLimitedUser, jt.header.Alg, jt.header.Kid})
	c := jsonNoEscape(struct {
		Sub json.RawMessage `json:"sub"`
		Iat json.RawMessage `json:"iat"`
		Exp json.RawMessage `json:"exp"`
	}{claims["sub"], claims["iat"], claims["exp"]})
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + u.UIP
}

func (u userClaims) groups() []string {
	var groups []string
	for _, ref := range u.Ent {
		if strings.HasPrefix(strings.ToLower(ref), "group:") {
			groups = append(groups, ref)
		}
	}
	return groups
}

func (v *Verifier) verifyPlugin(ctx context.Context, jt jwtParts) (paved.Principal, time.Time, error) {
	if err := jt.checkHeader(); err != nil {
		return paved.Principal{}, time.Time{}, err
	}
	var c pluginClaims
	if err := json.Unmarshal(jt.payload, &c); err != nil {
		return paved.Principal{}, time.Time{}, unauthenticated("malformed token claims")
	}
	if !ValidPluginID(c.Subject) {
		return paved.Principal{}, time.Time{}, unauthenticated("invalid plugin token: bad subject")
	}
	// Checked before any key lookup, so a token naming an unknown plugin never
	// makes paved fetch keys from wherever discovery points for it.
	if !v.allowed[c.Subject] {
		return paved.Principal{}, time.Time{}, paved.Errorf(paved.EForbidden, "plugin %q may not call paved", c.Subject)
	}
	if c.IssuedAt == nil || c.ExpiresAt == nil || len(c.Audience) == 0 {
		return paved.Principal{}, time.Time{}, unauthenticated("invalid plugin token: missing iat, exp or aud")
	}
	if err := v.validator.Validate(c); err != nil {
		return paved.Principal{}, time.Time{}, unauthenticated("invalid plugin token: " + claimReason(err))
	}
	base, err := v.discovery.BaseURL(c.Subject)
	if err != nil {
		return paved.Principal{}, time.Time{}, unauthenticated("invalid plugin token: no endpoint for its plugin")
	}
	if err := v.verifySignature(ctx, c.Subject, base+pluginJWKSPath, jt, c.IssuedAt.Time); err != nil {
		return paved.Principal{}, time.Time{}, unauthenticated("invalid plugin token: " + err.Error())
	}
	p := paved.Principal{Kind: paved.PrincipalPlugin, Subject: c.Subject}
	exp := c.ExpiresAt.Time
	if c.OBO != "" {
		user, userExp, err := v.verifyOBO(ctx, c.OBO)
		if err != nil {
			return paved.Principal{}, time.Time{}, err
		}
		p.User, p.OnBehalfOf = user, c.OBO
		if userExp.Before(exp) {
			exp = userExp
		}
	}
	return p, exp, nil
}

// verifyOBO verifies the user token a plugin token carries. Backstage signs
// a new plugin token for every call, but the obo inside is the same string
// for all calls of one user (a limited token is derived from the user's
// token, not signed anew), so a verified obo is remembered until it expires,
// apart from the tokens accepted as callers: a limited token must never
// pass on its own.
func (v *Verifier) verifyOBO(ctx context.Context, obo string) (user string, exp time.Time, err error) {
	sum := sha256.Sum256([]byte(obo))
	if p, exp, ok := v.verifiedOBO.lookup(sum, v.now()); ok {
		return p.User, exp, nil
	}
	ojt, err := splitJWT(obo)
	if err != nil {
		return "", time.Time{}, unauthenticated("invalid on-behalf-of token: malformed")
	}
	// Backstage passes the full user token as obo when it cannot limit it.
	if ojt.header.Typ != TypLimitedUser && ojt.header.Typ != TypUser {
		return "", time.Time{}, unauthenticated("invalid on-behalf-of token: unsupported type")
	}
	u, err := v.verifyUser(ctx, ojt, ojt.header.Typ)
	if err != nil {
		return "", time.Time{}, unauthenticated("invalid on-behalf-of token")
	}
	v.verifiedOBO.put(sum, paved.Principal{User: u.Subject}, u.ExpiresAt.Time, v.now())
	return u.Subject, u.ExpiresAt.Time, nil
}

func (v *Verifier) verifyUser(ctx context.Context, jt jwtParts, typ string) (userClaims, error) {
	if err := jt.checkHeader(); err != nil {
		return userClaims{}, err
	}
	var c userClaims
	if err := json.Unmarshal(jt.payload, &c); err != nil {
		return userClaims{}, unauthenticated("malformed token claims")
	}
	if c.Subject == "" || c.IssuedAt == nil || c.ExpiresAt == nil {
		return userClaims{}, unauthenticated("invalid user token: missing sub, iat or exp")
	}
	if err := v.userValid.Validate(c); err != nil {
		return userClaims{}, unauthenticated("invalid user token: " + claimReason(err))
	}
	base, err := v.discovery.BaseURL(v.authPluginID)
	if err != nil {
		return userClaims{}, unauthenticated("invalid user token: no endpoint for the auth plugin")
	}
	if err := v.verifySignature(ctx, v.authPluginID, base+authJWKSPath, jt, c.IssuedAt.Time); err != nil {
		return userClaims{}, unauthenticated("invalid user token: " + err.Error())
	}
	return c, nil
}

// verifySignature checks jt against the keys of plugin at jwksURL. When the
// keys cannot be fetched, the error names the plugin and the URL tried: the
// usual cause is paved's discovery not reaching the Backstage that runs the
// plugin, and the caller (a plugin such as mcp-actions, which otherwise
// shows its user zero tools) can say so.
func (v *Verifier) verifySignature(ctx context.Context, plugin, jwksURL string, jt jwtParts, issuedAt time.Time) error {
	key, err := v.jwks.key(ctx, jwksURL, jt.header.Kid, issuedAt)
	if errors.Is(err, errJWKSFetch) {
		return fmt.Errorf("paved cannot fetch the signing keys of plugin %q from %s; paved's backstage.discovery (or backstage.endpoints.%s) must reach the Backstage backend that runs it", plugin, jwksURL, plugin)
	}
	if err != nil {
		return err
	}
	return verifyES256(jt, key)
}

func verifyES256(jt jwtParts, key *ecdsa.PublicKey) error {
	if err := jwt.SigningMethodES256.Verify(jt.signingInput, jt.signature, key); err != nil {
		return errors.New("bad signature")
	}
	return nil
}

// jwtParts is a compact JWS split and decoded, not yet verified.
type jwtParts struct {
	header struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	payload      []byte
	signingInput string
	signature    []byte
}

func splitJWT(token string) (jwtParts, error) {
	var jt jwtParts
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return jt, errors.New("not a JWT")
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return jt, errors.New("not a JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return jt, err
	}
	if err := json.Unmarshal(hb, &jt.header); err != nil {
		return jt, err
	}
	if jt.payload, err = base64.RawURLEncoding.DecodeString(p); err != nil {
		return jt, err
	}
	if jt.signature, err = base64.RawURLEncoding.DecodeString(s); err != nil {
		return jt, err
	}
	jt.signingInput = token[:len(h)+1+len(p)]
	return jt, nil
}

// checkHeader enforces what Backstage signs with: ES256 and a key id.
// Refusing every other alg up front shuts out "none" and the HMAC-with-the-
// public-key confusion.
func (jt jwtParts) checkHeader() error {
	if jt.header.Alg != "ES256" {
		return unauthenticated("unsupported token algorithm")
	}
	if jt.header.Kid == "" {
		return unauthenticated("token has no key id")
	}
	return nil
}

func claimReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	default:
		return "invalid claims"
	}
}

func bearerToken(authorization string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func unauthenticated(reason string) error {
	return &paved.Error{Code: paved.EUnauthenticated, Message: reason}
}

func jsonNoEscape(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// verifiedCache remembers tokens that passed verification until they
// expire: the frontend sends the same user token for up to an hour, and an
// ECDSA verification costs far more than a map lookup.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	p   paved.Principal
	exp time.Time
}

const maxVerifiedEntries = 4096

func (c *verifiedCache) get(sum [sha256.Size]byte, now time.Time) (paved.Principal, bool) {
	p, _, ok := c.lookup(sum, now)
	return p, ok
}

func (c *verifiedCache) lookup(sum [sha256.Size]byte, now time.Time) (paved.Principal, time.Time, bool) {
	c.mu.Lock()
	e, ok := c.entries[sum]
	c.mu.Unlock()
	if !ok || !now.Before(e.exp) {
		return paved.Principal{}, time.Time{}, false
	}
	e.p.Groups = slices.Clone(e.p.Groups)
	return e.p, e.exp, true
}

func (c *verifiedCache) put(sum [sha256.Size]byte, p paved.Principal, exp, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxVerifiedEntries {
		for k, e := range c.entries {
			if !now.Before(e.exp) {
				delete(c.entries, k)
			}
		}
		// Still full of live tokens: start over rather than track recency.
		if len(c.entries) >= maxVerifiedEntries {
			clear(c.entries)
		}
	}
	c.entries[sum] = verifiedEntry{p: p, exp: exp}
}
