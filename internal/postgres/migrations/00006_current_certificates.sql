-- The current certificate of each user moves from a flag on its row to a
-- narrow table of its own: user, generation and renew_at, with the index
-- that sweeps read due users from.
--
-- A renewal took the flag from the old certificate with an UPDATE: a new
-- version of its whole row (1.3 KB, most of it the PEM) and, since the flag
-- is in the partial index's condition, new entries in every index of
-- certificates. Now a renewal upserts a row of some 60 bytes. The schema of
-- internal/sqlite has the same change and numbering.
--
-- The generation, not the certificate's ID, names the certificate: the
-- upsert keeps the newest with a comparison, and (user_id, generation) is
-- the certificates' unique key. No foreign key, as for certificates since
-- 00005: the writers lock the user, and the user's delete trigger deletes
-- the row with the user's certificates and renewals.
--
-- Down puts the flag back at the end of the table, where 00002 put it.

-- +goose Up
CREATE TABLE current_certificates (
    user_id    text PRIMARY KEY,
    generation integer NOT NULL,
    renew_at   timestamptz NOT NULL
);
INSERT INTO current_certificates (user_id, generation, renew_at)
    SELECT user_id, generation, renew_at FROM certificates WHERE current;
-- ListRenewalCandidates: the due users in the order of their
-- CandidateKey.
CREATE INDEX current_certificates_renew_at ON current_certificates (renew_at, user_id);
DROP INDEX certificates_current_renew_at;
ALTER TABLE certificates DROP COLUMN current;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION service_users_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM renewals WHERE user_id IN (SELECT id FROM gone);
    DELETE FROM certificates WHERE user_id IN (SELECT id FROM gone);
    DELETE FROM current_certificates WHERE user_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION service_users_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM renewals WHERE user_id IN (SELECT id FROM gone);
    DELETE FROM certificates WHERE user_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

ALTER TABLE certificates ADD COLUMN current boolean NOT NULL DEFAULT false;
UPDATE certificates c SET current = true
    FROM current_certificates cc WHERE cc.user_id = c.user_id AND cc.generation = c.generation;
CREATE INDEX certificates_current_renew_at ON certificates (renew_at) WHERE current;
DROP TABLE current_certificates;
