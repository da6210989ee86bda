package pki

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/kcred/kcred"
)

const (
	// MasterKeySize is the size of the master key: AES-256.
	MasterKeySize = 32

	// sealVersion is the first byte of every sealed value, so the format
	// (cipher, nonce size) can change later while old values still open.
	sealVersion byte = 1

	sealNonceSize = 12 // the standard GCM nonce
	sealTagSize   = 16 // the full GCM tag
	sealOverhead  = 1 + sealNonceSize + sealTagSize
)

// ErrUnseal is returned by Open for a value that is corrupted, was sealed
// for another record, or was sealed under another master key. Deliberately
// one error for all three: telling them apart would help an attacker, and
// none of them is the caller's fault (kcred.ErrorCode reports EINTERNAL).
var ErrUnseal = errors.New("pki: sealed value cannot be opened (corrupted, wrong record or wrong master key)")

// Sealer seals secrets (private keys, passwords) with AES-256-GCM under the
// master key. The record id is the associated data, so a sealed value copied
// to another record (say, another user's key column) fails to open. It is
// safe for concurrent use.
//
// A sealed value is: 1 version byte (1) | 12-byte random nonce | ciphertext
// and 16-byte tag. Random 96-bit nonces are safe for up to 2^32 seals per
// master key, far beyond the number of credentials kcred will ever store.
type Sealer struct {
	// aead is built once: deriving the AES key schedule and GHASH tables
	// per call would cost more than sealing a key. GCM keeps no state
	// between calls, so one instance serves concurrent requests.
	aead cipher.AEAD
}

// NewSealer returns a Sealer for masterKey, which must be exactly 32 bytes;
// any other length is a kcred.EINVALID error.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		// Never quote the key, only its length.
		return nil, kcred.Errorf(kcred.EINVALID, "Master key must be %d bytes, got %d.", MasterKeySize, len(masterKey))
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("pki: new AES cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("pki: new GCM: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for the record recordID and returns the sealed
// value. It cannot fail: the only failure, the system random source, makes
// crypto/rand crash the program rather than return.
func (s *Sealer) Seal(recordID string, plaintext []byte) []byte {
	out := make([]byte, 1+sealNonceSize, sealOverhead+len(plaintext))
	out[0] = sealVersion
	nonce := out[1 : 1+sealNonceSize]
	rand.Read(nonce) // never returns an error since Go 1.24
	return s.aead.Seal(out, nonce, plaintext, []byte(recordID))
}

// Open decrypts a value sealed by Seal for recordID. A value that is
// truncated, tampered with, of an unknown version, sealed for another record
// or under another master key returns ErrUnseal, which never includes the
// plaintext, the key or the sealed bytes.
func (s *Sealer) Open(recordID string, sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	nonce := sealed[1 : 1+sealNonceSize]
	plaintext, err := s.aead.Open(nil, nonce, sealed[1+sealNonceSize:], []byte(recordID))
	if err != nil {
		return nil, ErrUnseal
	}
	return plaintext, nil
}

// GenerateMasterKey returns a new random 32-byte master key.
func GenerateMasterKey() ([]byte, error) {
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("pki: random master key: %w", err)
	}
	return k, nil
}
