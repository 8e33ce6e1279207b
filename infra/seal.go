package infra

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sealer encrypts credentials at rest with AES-256-GCM. The resource id is
// the additional data, so sealed credentials moved to another row do not open.
type Sealer struct{ aead cipher.AEAD }

// KeySize is the length of a sealing key: AES-256.
const KeySize = 32

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("infra: the encryption key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain; the result is nonce ‖ ciphertext ‖ tag.
func (s *Sealer) Seal(plain, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, aad), nil
}

// Open decrypts what Seal returned for the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("infra: sealed credentials are truncated")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errors.New("infra: sealed credentials do not open with this key")
	}
	return plain, nil
}

// LoadKey returns the sealing key: configured (base64, standard or URL
// alphabet) when set, else read from file, created with a new random key on
// first start so that a developer's paved needs no set-up.
func LoadKey(configured, file string) ([]byte, error) {
	if configured != "" {
		return decodeKey(configured)
	}
	if file == "" {
		return nil, errors.New("infra: no encryption key and no key file")
	}
	if raw, err := os.ReadFile(file); err == nil {
		return decodeKey(strings.TrimSpace(string(raw)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("infra: key file: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("infra: key file: %w", err)
	}
	// O_EXCL: of two processes starting together, one writes and both read its key.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadKey("", file)
	}
	if err != nil {
		return nil, fmt.Errorf("infra: key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("infra: key file: %w", err)
	}
	return key, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("infra: the encryption key must be %d bytes (base64), got %d", KeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("infra: the encryption key is not base64")
}
