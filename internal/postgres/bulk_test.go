package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/storetest"
)

// BulkInsert is the storetest.BulkInsert of PostgreSQL: COPY in one
// transaction, for benchmarks with a million users.
func BulkInsert(ctx context.Context, ks kcred.Store, b *storetest.Bulk) error {
	s := ks.(*Store)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		copy := func(table string, cols []string, rows [][]any) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("bulk copy into %s: %w", table, err)
			}
			return nil
		}
		var users, certs, currents, renewals [][]any
		for _, u := range b.Users {
			users = append(users, []any{u.ID, u.ServiceID, u.Username, u.Type, blob(u.SealedPassword), u.AccessControl,
				timeArg(u.CreateTime), timeArg(u.PasswordUpdateTime)})
		}
		for i, c := range b.Certs {
			certs = append(certs, []any{c.ID, c.UserID, int32(c.Generation), c.Serial, c.Subject, string(c.KeyType),
				timeArg(c.NotBefore), timeArg(c.NotAfter), c.CertPEM, blob(c.SealedKey), c.Reason,
				int32(c.CAGeneration), timeArg(c.CreateTime), timeArg(renewAt(c))})
			if b.Current[i] {
				currents = append(currents, []any{c.UserID, int32(c.Generation), timeArg(renewAt(c))})
			}
		}
		for _, r := range b.Renewals {
			r := *r
			defaultNextAction(&r)
			renewals = append(renewals, []any{r.ID, r.UserID, r.OldCertID, r.NewCertID, timeArg(r.OldNotAfter),
				timeArg(r.CreateTime), timeArg(r.AcknowledgedAt), r.AcknowledgedBy, int64(r.LastReminder),
				int32(r.RemindersSent), timeArg(r.ClosedAt), timeArg(r.NextActionAt)})
		}
		if err := copy("service_users", []string{"id", "service_id", "username", "type", "sealed_password",
			"access_control", "create_time", "password_update_time"}, users); err != nil {
			return err
		}
		if err := copy("certificates", []string{"id", "user_id", "generation", "serial", "subject", "key_type",
			"not_before", "not_after", "cert_pem", "sealed_key", "reason", "ca_generation", "create_time", "renew_at"},
			certs); err != nil {
			return err
		}
		if err := copy("current_certificates", []string{"user_id", "generation", "renew_at"}, currents); err != nil {
			return err
		}
		return copy("renewals", []string{"id", "user_id", "old_cert_id", "new_cert_id", "old_not_after",
			"create_time", "acknowledged_at", "acknowledged_by", "last_reminder_ns", "reminders_sent", "closed_at",
			"next_action_at"}, renewals)
	})
}

// The statements of the sweeps, for plan_test.go.
var (
	SQLListRenewalCandidates = sqlListRenewalCandidates
	SQLListDueRenewals       = sqlListDueRenewals
	SQLListPendingNotices    = sqlListPendingNotices
	SQLListDueDeliveries     = sqlListDueDeliveries
)

// renewAt is what CreateCertificate stores when RenewAt is zero.
func renewAt(c *kcred.Certificate) time.Time {
	if c.RenewAt.IsZero() {
		return c.NotAfter
	}
	return c.RenewAt
}
