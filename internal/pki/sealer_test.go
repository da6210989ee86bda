package pki

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kcred/kcred"
)

func newTestSealer(t testing.TB) (*Sealer, []byte) {
	t.Helper()
	key, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s, key
}

func TestSealerRoundTrip(t *testing.T) {
	s, _ := newTestSealer(t)
	for name, pt := range map[string][]byte{
		"empty":    {},
		"password": []byte("hunter2"),
		"key":      bytes.Repeat([]byte{0xa5}, 250),
		"large":    bytes.Repeat([]byte("x"), 1<<16),
	} {
		t.Run(name, func(t *testing.T) {
			sealed := s.Seal("cert-1", pt)
			if len(sealed) != 1+12+len(pt)+16 || sealed[0] != 1 {
				t.Errorf("sealed is %d bytes with version %d; want %d bytes, version 1", len(sealed), sealed[0], 1+12+len(pt)+16)
			}
			if len(pt) >= 8 && bytes.Contains(sealed, pt[:8]) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := s.Open("cert-1", sealed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, pt) {
				t.Error("Open(Seal(pt)) != pt")
			}
		})
	}
}

// TestSealerFormat opens a sealed value with a GCM built here from the
// documented layout, so the format is pinned: values in existing databases
// must stay readable whatever this package becomes.
func TestSealerFormat(t *testing.T) {
	s, key := newTestSealer(t)
	sealed := s.Seal("user-42", []byte("secret"))
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gcm.Open(nil, sealed[1:13], sealed[13:], []byte("user-42"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("independent open: %q, %v", got, err)
	}
}

func TestSealerRejects(t *testing.T) {
	s, key := newTestSealer(t)
	plaintext := []byte("-----BEGIN PRIVATE KEY-----\nsecret key material\n")
	sealed := s.Seal("cert-1", plaintext)

	other, _ := newTestSealer(t)
	// A key one bit off must fail as well as a random one.
	nearKey := append([]byte(nil), key...)
	nearKey[31] ^= 1
	near, err := NewSealer(nearKey)
	if err != nil {
		t.Fatal(err)
	}

	type tcase struct {
		name   string
		sealer *Sealer
		id     string
		sealed []byte
	}
	tests := []tcase{
		{"wrong record id", s, "cert-2", sealed},
		{"empty record id", s, "", sealed},
		{"record id prefix", s, "cert-", sealed},
		{"other master key", other, "cert-1", sealed},
		{"master key one bit off", near, "cert-1", sealed},
		{"empty", s, "cert-1", nil},
		{"version 2", s, "cert-1", append([]byte{2}, sealed[1:]...)},
	}
	// Every flipped bit position class, in every byte: version, nonce,
	// ciphertext and tag.
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80} {
			b := append([]byte(nil), sealed...)
			b[i] ^= mask
			tests = append(tests, tcase{"flip byte " + strconv.Itoa(i) + " mask " + strconv.Itoa(int(mask)), s, "cert-1", b})
		}
	}
	// Every truncation, and an appended byte.
	for n := 0; n < len(sealed); n++ {
		tests = append(tests, tcase{"truncated to " + strconv.Itoa(n), s, "cert-1", sealed[:n]})
	}
	tests = append(tests, tcase{"extended", s, "cert-1", append(append([]byte(nil), sealed...), 0)})

	for _, tt := range tests {
		got, err := tt.sealer.Open(tt.id, tt.sealed)
		if err == nil {
			t.Errorf("%s: Open succeeded", tt.name)
			continue
		}
		if got != nil {
			t.Errorf("%s: Open returned data with an error", tt.name)
		}
		if !errors.Is(err, ErrUnseal) || kcred.ErrorCode(err) != kcred.EINTERNAL {
			t.Errorf("%s: err %v (code %s), want ErrUnseal, internal", tt.name, err, kcred.ErrorCode(err))
		}
		if msg := err.Error(); strings.Contains(msg, "secret") || strings.Contains(msg, string(key)) {
			t.Errorf("%s: error leaks a secret: %q", tt.name, msg)
		}
	}
	// The untouched value still opens: the failures are the changes'.
	if _, err := s.Open("cert-1", sealed); err != nil {
		t.Fatal(err)
	}
}

// TestSealNonceIsRandom checks that sealing the same value twice gives
// different outputs: a repeated GCM nonce under one key leaks the XOR of the
// plaintexts and the authentication key.
func TestSealNonceIsRandom(t *testing.T) {
	s, _ := newTestSealer(t)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		sealed := s.Seal("cert-1", []byte("same"))
		nonce := string(sealed[1:13])
		if seen[nonce] {
			t.Fatalf("seal %d repeated a nonce", i)
		}
		seen[nonce] = true
	}
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if s, err := NewSealer(make([]byte, n)); kcred.ErrorCode(err) != kcred.EINVALID || s != nil {
			t.Errorf("NewSealer(%d bytes) = %v, %v; want nil, code %s", n, s, err, kcred.EINVALID)
		}
	}
	if _, err := NewSealer(make([]byte, 32)); err != nil {
		t.Errorf("NewSealer(32 bytes): %v", err)
	}
}

func TestGenerateMasterKey(t *testing.T) {
	a, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("lengths %d, %d; want 32", len(a), len(b))
	}
	if bytes.Equal(a, b) || bytes.Equal(a, make([]byte, 32)) {
		t.Error("master keys are not random")
	}
}

// TestSealerConcurrent shares one Sealer between goroutines as the API
// server does; run with -race it checks that Seal and Open keep no state.
func TestSealerConcurrent(t *testing.T) {
	s, _ := newTestSealer(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "rec-" + strconv.Itoa(g)
			for i := 0; i < 200; i++ {
				pt := []byte(id + "-" + strconv.Itoa(i))
				got, err := s.Open(id, s.Seal(id, pt))
				if err != nil || !bytes.Equal(got, pt) {
					errs <- errors.New(id + ": round trip failed")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
