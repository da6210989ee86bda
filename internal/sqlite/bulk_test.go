package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/storetest"
)

// BulkInsert is the storetest.BulkInsert of SQLite: multi-row INSERTs in
// one transaction, for benchmarks with a million users.
func BulkInsert(ctx context.Context, ks kcred.Store, b *storetest.Bulk) error {
	s := ks.(*Store)
	return s.inTx(ctx, func(q queries) error {
		// A page cache that holds the indexes of a million users: with the
		// default 2 MB every insert of a random ID spills and rereads pages.
		if _, err := q.tx.ExecContext(ctx, "PRAGMA cache_size = -1000000"); err != nil {
			return err
		}
		// One prepared single-row INSERT per table: multi-row statements
		// need statement journals whose freeing costs more than the rows.
		insert := func(table string, cols []string, rows [][]any) error {
			st, err := q.tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table,
				strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")))
			if err != nil {
				return err
			}
			defer st.Close()
			for _, r := range rows {
				if _, err := st.ExecContext(ctx, r...); err != nil {
					return fmt.Errorf("bulk insert into %s: %w", table, err)
				}
			}
			return nil
		}
		var users, certs, currents, renewals [][]any
		for _, u := range b.Users {
			users = append(users, []any{u.ID, u.ServiceID, u.Username, u.Type, blob(u.SealedPassword), u.AccessControl,
				timeArg(u.CreateTime), timeArg(u.PasswordUpdateTime)})
		}
		for i, c := range b.Certs {
			certs = append(certs, []any{c.ID, c.UserID, c.Generation, c.Serial, c.Subject, string(c.KeyType),
				timeArg(c.NotBefore), timeArg(c.NotAfter), c.CertPEM, blob(c.SealedKey), c.Reason, c.CAGeneration,
				timeArg(c.CreateTime), timeArg(renewAt(c))})
			if b.Current[i] {
				currents = append(currents, []any{c.UserID, c.Generation, timeArg(renewAt(c))})
			}
		}
		for _, r := range b.Renewals {
			r := *r
			defaultNextAction(&r)
			renewals = append(renewals, []any{r.ID, r.UserID, r.OldCertID, r.NewCertID, timeArg(r.OldNotAfter),
				timeArg(r.CreateTime), timeArg(r.AcknowledgedAt), r.AcknowledgedBy, int64(r.LastReminder),
				r.RemindersSent, timeArg(r.ClosedAt), timeArg(r.NextActionAt)})
		}
		if err := insert("service_users", []string{"id", "service_id", "username", "type", "sealed_password",
			"access_control", "create_time", "password_update_time"}, users); err != nil {
			return err
		}
		if err := insert("certificates", []string{"id", "user_id", "generation", "serial", "subject", "key_type",
			"not_before", "not_after", "cert_pem", "sealed_key", "reason", "ca_generation", "create_time", "renew_at"},
			certs); err != nil {
			return err
		}
		if err := insert("current_certificates", []string{"user_id", "generation", "renew_at"}, currents); err != nil {
			return err
		}
		return insert("renewals", []string{"id", "user_id", "old_cert_id", "new_cert_id", "old_not_after",
			"create_time", "acknowledged_at", "acknowledged_by", "last_reminder_ns", "reminders_sent", "closed_at",
			"next_action_at"}, renewals)
	})
}

// renewAt is what CreateCertificate stores when RenewAt is zero.
func renewAt(c *kcred.Certificate) time.Time {
	if c.RenewAt.IsZero() {
		return c.NotAfter
	}
	return c.RenewAt
}
