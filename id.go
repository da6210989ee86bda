package kcred

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewID returns a 128-bit identifier as 32 lowercase hex characters: the
// first 48 bits are the Unix time in milliseconds and the other 80 random,
// as in a UUIDv7. IDs are made before a record is written because sealed
// secrets use the record's ID as associated data. Time first makes the IDs
// of new records sort after the old, so the stores' indexes on IDs take
// inserts at their right edge instead of in a random page each: fewer
// pages written per transaction.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	rand.Read(b[6:]) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}
