-- The current certificate of each user moves from a flag on its row to a
-- narrow table of its own: user, generation and renew_at, with the index
-- that sweeps read due users from.
--
-- A renewal took the flag from the old certificate with an UPDATE that
-- rewrote its whole row (1.3 KB, most of it the PEM) and the partial index
-- on renew_at: a third of what writing a batch of renewals cost
-- (BenchmarkCreateRenewals/batch: 90 µs a renewal with it, 66 without).
-- Now a renewal upserts a row of some 60 bytes, keyed by the user's ID,
-- which is time-ordered, so a batch touches a few adjacent pages. The
-- schema of internal/postgres has the same change and numbering.
--
-- The generation, not the certificate's ID, names the certificate: the
-- upsert keeps the newest with a comparison, and (user_id, generation) is
-- the certificates' unique key. No key to certificates: they go only with
-- their user, whose delete takes this row too.
--
-- SQLite drops a column only when no index names it: the partial index
-- goes first. Down puts the flag back at the end of the table where 00002
-- put it.

-- +goose Up
CREATE TABLE current_certificates (
    user_id    TEXT PRIMARY KEY REFERENCES service_users (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    renew_at   TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO current_certificates (user_id, generation, renew_at)
    SELECT user_id, generation, coalesce(renew_at, not_after) FROM certificates WHERE current = 1;
-- ListRenewalCandidates: the due users in the order of their
-- CandidateKey (renew_at, user_id); with the generation the index alone
-- names each due certificate.
CREATE INDEX current_certificates_renew_at ON current_certificates (renew_at, user_id, generation);
DROP INDEX certificates_current_renew_at;
ALTER TABLE certificates DROP COLUMN current;

-- +goose Down
ALTER TABLE certificates ADD COLUMN current INTEGER NOT NULL DEFAULT 0;
UPDATE certificates SET current = 1 WHERE EXISTS (SELECT 1 FROM current_certificates cc
    WHERE cc.user_id = certificates.user_id AND cc.generation = certificates.generation);
CREATE INDEX certificates_current_renew_at ON certificates (renew_at) WHERE current = 1;
DROP TABLE current_certificates;
