// Package pki holds kcred's certificate machinery: the per-project CA, key
// generation, issuing client and server certificates, PEM encoding, and
// sealing secrets at rest under the master key.
//
// It uses only the standard library's crypto so that what it writes can be
// read by OpenSSL, Java and Kafka without surprises, and so that its
// behaviour is easy to audit. Errors carry kcred codes: bad input is
// kcred.EINVALID; anything else (a failing random source, a bug) is a plain
// error that kcred.ErrorCode reports as kcred.EINTERNAL.
package pki
