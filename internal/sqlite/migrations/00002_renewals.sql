-- Renewal sweeps, notices, notifications, deliveries and webhooks.
--
-- Sweeps cost O(due), not O(users): every sweep predicate reads a partial
-- index that holds only the rows a sweep may want (current certificates,
-- open renewals, pending notices, pending deliveries).
-- The schema of internal/postgres has the same tables, columns and numbering.

-- +goose Up

-- current is 1 for the newest generation of a user and 0 for the others:
-- CreateCertificate keeps it so. Renewal sweeps look only at current
-- certificates; the partial index replaces the index on every certificate's
-- not_after, which old generations (expired, never renewed again) filled
-- with rows a sweep had to skip.
ALTER TABLE certificates ADD COLUMN current INTEGER NOT NULL DEFAULT 0;
UPDATE certificates SET current = 1
    WHERE generation = (SELECT max(c.generation) FROM certificates c WHERE c.user_id = certificates.user_id);
DROP INDEX certificates_not_after;
-- renew_at is when a certificate is due for renewal: not_after less the
-- project's renew_before when it was made. Certificates of before this
-- migration get their project's renew_before, or the default 90 days.
ALTER TABLE certificates ADD COLUMN renew_at TEXT;
UPDATE certificates SET renew_at = strftime('%Y-%m-%dT%H:%M:%S', not_after, '-' || (
    SELECT coalesce(nullif(p.renew_before_ns, 0), 7776000000000000) / 1000000000
    FROM service_users u JOIN services s ON s.id = u.service_id JOIN projects p ON p.name = s.project
    WHERE u.id = certificates.user_id) || ' seconds') || substr(not_after, 20);
CREATE INDEX certificates_current_renew_at ON certificates (renew_at) WHERE current = 1;

-- next_action_at is when a sweep must look at an open renewal again (the
-- next reminder or the old certificate's expiry). The open renewals of
-- before this migration are due at once: the next sweep computes their
-- real next action, which needs the reminder schedule.
ALTER TABLE renewals ADD COLUMN next_action_at TEXT;
UPDATE renewals SET next_action_at = create_time WHERE closed_at IS NULL;
CREATE INDEX renewals_open_next_action_at ON renewals (next_action_at) WHERE closed_at IS NULL;

-- Notices are the outbox of lifecycle transitions. They hold names, not
-- foreign keys, of services and users: a notice outlives the user it is
-- about until it is sent. Deleting the project deletes its notices.
CREATE TABLE notices (
    seq             INTEGER PRIMARY KEY, -- insertion order, breaks ties of create_time
    id              TEXT NOT NULL UNIQUE,
    project         TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    service_id      TEXT NOT NULL DEFAULT '',
    service_name    TEXT NOT NULL DEFAULT '',
    user_id         TEXT NOT NULL DEFAULT '',
    username        TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    old_serial      TEXT NOT NULL DEFAULT '',
    new_serial      TEXT NOT NULL DEFAULT '',
    old_not_after   TEXT,
    new_not_after   TEXT,
    offset_ns       INTEGER NOT NULL DEFAULT 0,
    create_time     TEXT NOT NULL,
    notification_id TEXT -- NULL while pending; no foreign key: set in the notification's transaction
);
-- ListPendingNotices: only pending notices, oldest first.
CREATE INDEX notices_pending ON notices (create_time, seq) WHERE notification_id IS NULL;
-- The cascade of DeleteProject.
CREATE INDEX notices_project ON notices (project);

CREATE TABLE notifications (
    seq         INTEGER PRIMARY KEY, -- insertion order, breaks ties of create_time
    id          TEXT NOT NULL UNIQUE,
    project     TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    recipients  TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    subject     TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL DEFAULT '',
    html        TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL DEFAULT '',
    create_time TEXT NOT NULL
);
-- ListNotifications, newest first; also the cascade of DeleteProject.
CREATE INDEX notifications_project_time ON notifications (project, create_time, seq);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    project         TEXT NOT NULL,
    channel         TEXT NOT NULL,
    target          TEXT NOT NULL, -- an email address or a webhook's ID
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    TEXT,
    create_time     TEXT NOT NULL,
    -- One delivery per channel and target; also the deliveries of a
    -- notification in order, and the cascade.
    UNIQUE (notification_id, channel, target)
);
-- ListDueDeliveries: only pending deliveries, by next attempt.
CREATE INDEX deliveries_pending_next_attempt ON deliveries (next_attempt) WHERE state = 'pending';

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    project       TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    create_time   TEXT NOT NULL
);
-- ListWebhooks, oldest first; also the cascade of DeleteProject.
CREATE INDEX webhooks_project_time ON webhooks (project, create_time, id);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE deliveries;
DROP TABLE notifications;
DROP TABLE notices;
DROP INDEX renewals_open_next_action_at;
ALTER TABLE renewals DROP COLUMN next_action_at;
DROP INDEX certificates_current_renew_at;
ALTER TABLE certificates DROP COLUMN renew_at;
ALTER TABLE certificates DROP COLUMN current;
CREATE INDEX certificates_not_after ON certificates (not_after);
