-- Renewal sweeps, notices, notifications, deliveries and webhooks.
--
-- Sweeps cost O(due), not O(users): every sweep predicate reads a partial
-- index that holds only the rows a sweep may want (current certificates,
-- open renewals, pending notices, pending deliveries).
-- The schema of internal/sqlite has the same tables, columns and numbering.

-- +goose Up

-- current is true for the newest generation of a user and false for the
-- others: CreateCertificate keeps it so. Renewal sweeps look only at
-- current certificates; the partial index replaces the index on every
-- certificate's not_after, which old generations (expired, never renewed
-- again) filled with rows a sweep had to skip.
ALTER TABLE certificates ADD COLUMN current boolean NOT NULL DEFAULT false;
UPDATE certificates c SET current = true
    FROM (SELECT user_id, max(generation) AS generation FROM certificates GROUP BY user_id) newest
    WHERE c.user_id = newest.user_id AND c.generation = newest.generation;
DROP INDEX certificates_not_after;
-- renew_at is when a certificate is due for renewal: not_after less the
-- project's renew_before when it was made. Certificates of before this
-- migration get their project's renew_before, or the default 90 days.
ALTER TABLE certificates ADD COLUMN renew_at timestamptz;
UPDATE certificates c SET renew_at = c.not_after - make_interval(secs =>
        coalesce(nullif(p.renew_before_ns, 0), 7776000000000000) / 1e9)
    FROM service_users u JOIN services s ON s.id = u.service_id JOIN projects p ON p.name = s.project
    WHERE u.id = c.user_id;
ALTER TABLE certificates ALTER COLUMN renew_at SET NOT NULL;
CREATE INDEX certificates_current_renew_at ON certificates (renew_at) WHERE current;

-- next_action_at is when a sweep must look at an open renewal again (the
-- next reminder or the old certificate's expiry). The open renewals of
-- before this migration are due at once: the next sweep computes their
-- real next action, which needs the reminder schedule.
ALTER TABLE renewals ADD COLUMN next_action_at timestamptz;
UPDATE renewals SET next_action_at = create_time WHERE closed_at IS NULL;
CREATE INDEX renewals_open_next_action_at ON renewals (next_action_at) WHERE closed_at IS NULL;

-- Notices are the outbox of lifecycle transitions. They hold names, not
-- foreign keys, of services and users: a notice outlives the user it is
-- about until it is sent. Deleting the project deletes its notices.
CREATE TABLE notices (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order, breaks ties of create_time
    id              text NOT NULL UNIQUE,
    project         text NOT NULL CONSTRAINT notices_project_fk REFERENCES projects (name) ON DELETE CASCADE,
    service_id      text NOT NULL DEFAULT '',
    service_name    text NOT NULL DEFAULT '',
    user_id         text NOT NULL DEFAULT '',
    username        text NOT NULL DEFAULT '',
    kind            text NOT NULL,
    old_serial      text NOT NULL DEFAULT '',
    new_serial      text NOT NULL DEFAULT '',
    old_not_after   timestamptz,
    new_not_after   timestamptz,
    offset_ns       bigint NOT NULL DEFAULT 0,
    create_time     timestamptz NOT NULL,
    notification_id text -- NULL while pending; no foreign key: set in the notification's transaction
);
-- ListPendingNotices: only pending notices, oldest first.
CREATE INDEX notices_pending ON notices (create_time, seq) WHERE notification_id IS NULL;
-- The cascade of DeleteProject.
CREATE INDEX notices_project ON notices (project);

CREATE TABLE notifications (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order, breaks ties of create_time
    id          text NOT NULL UNIQUE,
    project     text NOT NULL CONSTRAINT notifications_project_fk REFERENCES projects (name) ON DELETE CASCADE,
    kind        text NOT NULL,
    recipients  text[] NOT NULL DEFAULT '{}',
    subject     text NOT NULL DEFAULT '',
    text        text NOT NULL DEFAULT '',
    html        text NOT NULL DEFAULT '',
    payload     text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL
);
-- ListNotifications, newest first; also the cascade of DeleteProject.
CREATE INDEX notifications_project_time ON notifications (project, create_time, seq);

CREATE TABLE deliveries (
    id              text PRIMARY KEY,
    notification_id text NOT NULL CONSTRAINT deliveries_notification_fk REFERENCES notifications (id) ON DELETE CASCADE,
    project         text NOT NULL,
    channel         text NOT NULL,
    target          text NOT NULL, -- an email address or a webhook's ID
    state           text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt    timestamptz,
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    create_time     timestamptz NOT NULL,
    -- One delivery per channel and target; also the deliveries of a
    -- notification in order, and the cascade.
    CONSTRAINT deliveries_channel_target UNIQUE (notification_id, channel, target)
);
-- ListDueDeliveries: only pending deliveries, by next attempt.
CREATE INDEX deliveries_pending_next_attempt ON deliveries (next_attempt) WHERE state = 'pending';

CREATE TABLE webhooks (
    id            text PRIMARY KEY,
    project       text NOT NULL CONSTRAINT webhooks_project_fk REFERENCES projects (name) ON DELETE CASCADE,
    url           text NOT NULL,
    sealed_secret bytea NOT NULL,
    create_time   timestamptz NOT NULL
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
