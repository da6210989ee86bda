-- Renewals keep their certificates' IDs without foreign keys, and lose the
-- index no query reads any more.
--
-- Each certificate key was checked on every renewal written: a query of its
-- own that also locked the certificate's row, with an index on renewals per
-- key so that deleting a certificate could find its renewals. The keys
-- protected nothing. Certificates are never deleted on their own, only by
-- the cascade from their service user, which deletes the user's renewals
-- too, through renewals.user_id: that key and its index stay. A renewal's
-- certificates are its user's (CreateRenewal and CreateRenewals check
-- that, with an index probe that locks nothing), so they go in the same
-- cascade as the renewal and never dangle.
--
-- Since 00002 the reminder and expiry sweeps read
-- renewals_open_next_action_at; nothing filters or seeks by old_not_after.
-- The schema of internal/sqlite has the same tables, columns and numbering.

-- +goose Up
ALTER TABLE renewals DROP CONSTRAINT renewals_old_cert_fk, DROP CONSTRAINT renewals_new_cert_fk;
DROP INDEX renewals_old_cert_id;
DROP INDEX renewals_new_cert_id;
DROP INDEX renewals_open_old_not_after;

-- +goose Down
ALTER TABLE renewals
    ADD CONSTRAINT renewals_old_cert_fk FOREIGN KEY (old_cert_id) REFERENCES certificates (id) ON DELETE CASCADE,
    ADD CONSTRAINT renewals_new_cert_fk FOREIGN KEY (new_cert_id) REFERENCES certificates (id) ON DELETE CASCADE;
CREATE INDEX renewals_open_old_not_after ON renewals (old_not_after) WHERE closed_at IS NULL;
CREATE INDEX renewals_old_cert_id ON renewals (old_cert_id);
CREATE INDEX renewals_new_cert_id ON renewals (new_cert_id);
