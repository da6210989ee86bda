package pki

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"unicode/utf16"
)

// go-pkcs12 writes no friendlyName on the key bag, so keytool calls the
// entry "1". setKeyAlias adds one to a Modern2023 store: the key bag sits
// in the second SafeContents, which is not encrypted (the key itself is
// shrouded), so naming it needs no decryption; only the HMAC-SHA256 MAC over
// the authenticated safe is computed again with the password.

type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  p12MacData `asn1:"optional"`
}

type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type p12MacData struct {
	Mac        p12DigestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type p12DigestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue     `asn1:"tag:0,explicit"`
	Attributes []p12BagAttribute `asn1:"set,optional"`
}

type p12BagAttribute struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"set"`
}

var (
	oidP12Data          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidP12ShroudedKey   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidP12FriendlyName  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidSHA256           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	errUnexpectedPKCS12 = errors.New("pki: unexpected PKCS#12 layout")
)

func setKeyAlias(pfxData []byte, alias, password string) ([]byte, error) {
	var pfx p12PFX
	if rest, err := asn1.Unmarshal(pfxData, &pfx); err != nil || len(rest) != 0 {
		return nil, errUnexpectedPKCS12
	}
	if !pfx.MacData.Mac.Algorithm.Algorithm.Equal(oidSHA256) || !pfx.AuthSafe.ContentType.Equal(oidP12Data) {
		return nil, errUnexpectedPKCS12
	}
	var safeBytes []byte
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &safeBytes); err != nil {
		return nil, errUnexpectedPKCS12
	}
	var safe []p12ContentInfo
	if _, err := asn1.Unmarshal(safeBytes, &safe); err != nil || len(safe) != 2 || !safe[1].ContentType.Equal(oidP12Data) {
		return nil, errUnexpectedPKCS12
	}
	var bagsBytes []byte
	if _, err := asn1.Unmarshal(safe[1].Content.Bytes, &bagsBytes); err != nil {
		return nil, errUnexpectedPKCS12
	}
	var bags []p12SafeBag
	if _, err := asn1.Unmarshal(bagsBytes, &bags); err != nil || len(bags) != 1 || !bags[0].ID.Equal(oidP12ShroudedKey) {
		return nil, errUnexpectedPKCS12
	}
	name, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagBMPString, Bytes: bmp(alias)})
	if err != nil {
		return nil, err
	}
	bags[0].Attributes = append(bags[0].Attributes, p12BagAttribute{ID: oidP12FriendlyName,
		Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: name}})
	bags[0].Value.FullBytes = nil // keep Bytes, re-wrap
	if bagsBytes, err = asn1.Marshal(bags); err != nil {
		return nil, err
	}
	if safe[1].Content, err = explicitOctets(bagsBytes); err != nil {
		return nil, err
	}
	safe[0].Content.FullBytes = nil
	if safeBytes, err = asn1.Marshal(safe); err != nil {
		return nil, err
	}
	key := p12MacKey(password, pfx.MacData.MacSalt, pfx.MacData.Iterations)
	h := hmac.New(sha256.New, key)
	h.Write(safeBytes)
	pfx.MacData.Mac.Digest = h.Sum(nil)
	if pfx.AuthSafe.Content, err = explicitOctets(safeBytes); err != nil {
		return nil, err
	}
	out, err := asn1.Marshal(pfx)
	if err != nil {
		return nil, fmt.Errorf("pki: write PKCS#12: %w", err)
	}
	return out, nil
}

// explicitOctets is [0] EXPLICIT OCTET STRING b, the content of a data
// ContentInfo.
func explicitOctets(b []byte) (asn1.RawValue, error) {
	oct, err := asn1.Marshal(b)
	if err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct}, nil
}

// bmp is s as a BMPString (UTF-16 big endian, no terminator).
func bmp(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}

// p12MacKey derives the MAC key of RFC 7292 appendix B with SHA-256 (ID 3,
// 32 bytes): the password is a zero-terminated BMPString.
func p12MacKey(password string, salt []byte, iterations int) []byte {
	const u, v = 32, 64
	pw := append(bmp(password), 0, 0)
	fill := func(in []byte) []byte {
		if len(in) == 0 {
			return nil
		}
		out := make([]byte, v*((len(in)+v-1)/v))
		for i := range out {
			out[i] = in[i%len(in)]
		}
		return out
	}
	d := make([]byte, v)
	for i := range d {
		d[i] = 3
	}
	a := sha256.Sum256(append(append(d, fill(salt)...), fill(pw)...))
	for i := 1; i < iterations; i++ {
		a = sha256.Sum256(a[:])
	}
	return a[:u]
}
