package kcred

import (
	"slices"
	"time"
)

// CertPolicy says how a project's certificates are made and renewed. In a
// project's stored policy a zero field means "the server's default".
type CertPolicy struct {
	KeyType     KeyType
	Validity    time.Duration
	RenewBefore time.Duration
	Reminders   []time.Duration // offsets before the old certificate's expiry
}

// DefaultCertPolicy is Aiven's: 820 days, renewed 90 days before expiry,
// reminders 60, 30, 14, 7, 3 and 1 days before the old certificate expires.
func DefaultCertPolicy() CertPolicy {
	return CertPolicy{
		KeyType:     KeyTypeECP256,
		Validity:    820 * day,
		RenewBefore: 90 * day,
		Reminders:   []time.Duration{60 * day, 30 * day, 14 * day, 7 * day, 3 * day, day},
	}
}

// Merge returns p with every non-zero field of override applied.
func (p CertPolicy) Merge(override CertPolicy) CertPolicy {
	out := p
	if override.KeyType != "" {
		out.KeyType = override.KeyType
	}
	if override.Validity != 0 {
		out.Validity = override.Validity
	}
	if override.RenewBefore != 0 {
		out.RenewBefore = override.RenewBefore
	}
	if override.Reminders != nil {
		out.Reminders = override.Reminders
	}
	out.Reminders = slices.Clone(out.Reminders)
	slices.SortFunc(out.Reminders, func(a, b time.Duration) int { return int(b - a) })
	return out
}

// Validate checks a policy's fields that are set. It returns EINVALID.
func (p CertPolicy) Validate() error {
	if p.KeyType != "" && !p.KeyType.Valid() {
		return Errorf(EINVALID, "Unknown key type %q; use one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096.", p.KeyType)
	}
	if p.Validity < 0 || (p.Validity != 0 && p.Validity < time.Second) {
		return Errorf(EINVALID, "Validity must be at least 1s.")
	}
	if p.Validity > 100*365*day {
		return Errorf(EINVALID, "Validity must be at most 100 years.")
	}
	if p.RenewBefore < 0 {
		return Errorf(EINVALID, "renew_before must not be negative.")
	}
	if p.Validity != 0 && p.RenewBefore >= p.Validity {
		return Errorf(EINVALID, "renew_before must be shorter than the validity.")
	}
	if len(p.Reminders) > 20 {
		return Errorf(EINVALID, "At most 20 reminders.")
	}
	for _, r := range p.Reminders {
		if r <= 0 {
			return Errorf(EINVALID, "Reminder offsets must be positive.")
		}
	}
	return nil
}
