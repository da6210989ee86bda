-- Renewals keep their certificates' IDs without foreign keys, and lose the
-- index no query reads any more.
--
-- Each certificate key was checked on every renewal written, a seek of the
-- certificates' primary key, and needed an index on renewals so that
-- deleting a certificate could find its renewals. The keys protected
-- nothing. Certificates are never deleted on their own, only by the cascade
-- from their service user, which deletes the user's renewals too, through
-- renewals.user_id: that key and its index stay. A renewal's certificates
-- are its user's (CreateRenewal and CreateRenewals check that), so they go
-- in the same cascade as the renewal and never dangle. The keys and their
-- indexes go together: without the indexes, every certificate the cascade
-- deletes would scan renewals for the keys.
--
-- Since 00002 the reminder and expiry sweeps read
-- renewals_open_next_action_at; nothing filters or seeks by old_not_after.
-- The schema of internal/postgres has the same tables, columns and numbering.
--
-- SQLite cannot drop a constraint, so the table is rebuilt as its manual
-- says (https://sqlite.org/lang_altertable.html#otheralter): a new table,
-- the rows copied, the old table dropped, the new one renamed, its indexes
-- made again. goose runs this in one transaction, in which
-- PRAGMA foreign_keys cannot be turned off, and need not be: no table
-- references renewals, so dropping it deletes nothing elsewhere and the
-- rename rewrites no other table's REFERENCES. The copy checks user_id as
-- any insert does. Down rebuilds the table of 00002 the same way.

-- +goose Up
CREATE TABLE renewals_new (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES service_users (id) ON DELETE CASCADE,
    old_cert_id      TEXT NOT NULL, -- certificates of user_id: see above
    new_cert_id      TEXT NOT NULL,
    old_not_after    TEXT NOT NULL,
    create_time      TEXT NOT NULL,
    acknowledged_at  TEXT,
    acknowledged_by  TEXT NOT NULL DEFAULT '',
    last_reminder_ns INTEGER NOT NULL DEFAULT 0,
    reminders_sent   INTEGER NOT NULL DEFAULT 0,
    closed_at        TEXT,
    next_action_at   TEXT
);
INSERT INTO renewals_new (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, acknowledged_at,
        acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at)
    SELECT id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, acknowledged_at,
        acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at
    FROM renewals;
DROP TABLE renewals;
ALTER TABLE renewals_new RENAME TO renewals;
-- At most one open renewal per user: what makes renewal exactly-once.
CREATE UNIQUE INDEX renewals_one_open ON renewals (user_id) WHERE closed_at IS NULL;
-- The cascade of DeleteServiceUser.
CREATE INDEX renewals_user_id ON renewals (user_id);
-- Reminder and expiry sweeps: only open renewals, by their next action.
CREATE INDEX renewals_open_next_action_at ON renewals (next_action_at) WHERE closed_at IS NULL;

-- +goose Down
CREATE TABLE renewals_new (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES service_users (id) ON DELETE CASCADE,
    old_cert_id      TEXT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    new_cert_id      TEXT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    old_not_after    TEXT NOT NULL,
    create_time      TEXT NOT NULL,
    acknowledged_at  TEXT,
    acknowledged_by  TEXT NOT NULL DEFAULT '',
    last_reminder_ns INTEGER NOT NULL DEFAULT 0,
    reminders_sent   INTEGER NOT NULL DEFAULT 0,
    closed_at        TEXT,
    next_action_at   TEXT
);
INSERT INTO renewals_new (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, acknowledged_at,
        acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at)
    SELECT id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, acknowledged_at,
        acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at
    FROM renewals;
DROP TABLE renewals;
ALTER TABLE renewals_new RENAME TO renewals;
CREATE UNIQUE INDEX renewals_one_open ON renewals (user_id) WHERE closed_at IS NULL;
CREATE INDEX renewals_open_old_not_after ON renewals (old_not_after) WHERE closed_at IS NULL;
CREATE INDEX renewals_user_id ON renewals (user_id);
CREATE INDEX renewals_old_cert_id ON renewals (old_cert_id);
CREATE INDEX renewals_new_cert_id ON renewals (new_cert_id);
CREATE INDEX renewals_open_next_action_at ON renewals (next_action_at) WHERE closed_at IS NULL;
