-- kcred schema on PostgreSQL.
--
-- Times are timestamptz (microseconds, UTC on the way out); NULL is the zero
-- time. Durations are bigint nanoseconds (time.Duration, full precision).
-- The schema of internal/sqlite has the same tables, columns and numbering.
-- Foreign keys are named so that errors can say which parent is missing.

-- +goose Up
CREATE TABLE accounts (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    real_name     text NOT NULL DEFAULT '',
    password_hash text NOT NULL DEFAULT '',
    superuser     boolean NOT NULL DEFAULT false,
    create_time   timestamptz NOT NULL
);

CREATE TABLE tokens (
    id          text PRIMARY KEY,
    account_id  text NOT NULL CONSTRAINT tokens_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    hash        bytea NOT NULL UNIQUE,
    prefix      text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL,
    expiry_time timestamptz
);
CREATE INDEX tokens_account_id ON tokens (account_id);

CREATE TABLE projects (
    name            text PRIMARY KEY,
    tech_emails     text[] NOT NULL DEFAULT '{}',
    key_type        text NOT NULL DEFAULT '',
    validity_ns     bigint NOT NULL DEFAULT 0,
    renew_before_ns bigint NOT NULL DEFAULT 0,
    reminders_ns    bigint[],                  -- NULL: the server's schedule; '{}': no reminders
    ca_generation   integer NOT NULL DEFAULT 0,
    create_time     timestamptz NOT NULL
);

CREATE TABLE cas (
    id          text PRIMARY KEY,
    project     text NOT NULL CONSTRAINT cas_project_fk REFERENCES projects (name) ON DELETE CASCADE,
    generation  integer NOT NULL,
    cert_pem    text NOT NULL,
    sealed_key  bytea NOT NULL,
    not_after   timestamptz NOT NULL,
    create_time timestamptz NOT NULL,
    UNIQUE (project, generation)
);

CREATE TABLE members (
    project     text NOT NULL CONSTRAINT members_project_fk REFERENCES projects (name) ON DELETE CASCADE,
    account_id  text NOT NULL CONSTRAINT members_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    role        text NOT NULL,
    create_time timestamptz NOT NULL,
    PRIMARY KEY (project, account_id)
);
CREATE INDEX members_account_project ON members (account_id, project); -- ListProjectsByMember, in order

CREATE TABLE services (
    id          text PRIMARY KEY,
    project     text NOT NULL CONSTRAINT services_project_fk REFERENCES projects (name) ON DELETE CASCADE,
    name        text NOT NULL,
    type        text NOT NULL,
    uri         text NOT NULL DEFAULT '',
    tech_emails text[] NOT NULL DEFAULT '{}',
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE service_users (
    id                   text PRIMARY KEY,
    service_id           text NOT NULL CONSTRAINT service_users_service_fk REFERENCES services (id) ON DELETE CASCADE,
    username             text NOT NULL,
    type                 text NOT NULL,
    sealed_password      bytea NOT NULL,
    access_control       text NOT NULL DEFAULT '',
    create_time          timestamptz NOT NULL,
    password_update_time timestamptz,
    UNIQUE (service_id, username)
);

CREATE TABLE certificates (
    id            text PRIMARY KEY,
    user_id       text NOT NULL CONSTRAINT certificates_user_fk REFERENCES service_users (id) ON DELETE CASCADE,
    generation    integer NOT NULL,
    serial        text NOT NULL,
    subject       text NOT NULL DEFAULT '',
    key_type      text NOT NULL,
    not_before    timestamptz NOT NULL,
    not_after     timestamptz NOT NULL,
    cert_pem      text NOT NULL,
    sealed_key    bytea NOT NULL,
    reason        text NOT NULL,
    ca_generation integer NOT NULL,
    create_time   timestamptz NOT NULL,
    UNIQUE (user_id, generation)
);
-- Renewal sweeps select by expiry.
CREATE INDEX certificates_not_after ON certificates (not_after);

CREATE TABLE renewals (
    id               text PRIMARY KEY,
    user_id          text NOT NULL CONSTRAINT renewals_user_fk REFERENCES service_users (id) ON DELETE CASCADE,
    old_cert_id      text NOT NULL CONSTRAINT renewals_old_cert_fk REFERENCES certificates (id) ON DELETE CASCADE,
    new_cert_id      text NOT NULL CONSTRAINT renewals_new_cert_fk REFERENCES certificates (id) ON DELETE CASCADE,
    old_not_after    timestamptz NOT NULL,
    create_time      timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text NOT NULL DEFAULT '',
    last_reminder_ns bigint NOT NULL DEFAULT 0,
    reminders_sent   integer NOT NULL DEFAULT 0,
    closed_at        timestamptz
);
-- At most one open renewal per user: what makes renewal exactly-once across replicas.
CREATE UNIQUE INDEX renewals_one_open ON renewals (user_id) WHERE closed_at IS NULL;
-- Reminder and expiry sweeps look only at open renewals, by the old expiry.
CREATE INDEX renewals_open_old_not_after ON renewals (old_not_after) WHERE closed_at IS NULL;
-- Cascading deletes look renewals up by user and by certificate.
CREATE INDEX renewals_user_id ON renewals (user_id);
CREATE INDEX renewals_old_cert_id ON renewals (old_cert_id);
CREATE INDEX renewals_new_cert_id ON renewals (new_cert_id);

-- Events have no foreign key: some are about no project (logins), and the
-- event of a project's deletion outlives the project. DeleteProject deletes
-- a project's events in the same statement.
CREATE TABLE events (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order, breaks ties of time
    id      text NOT NULL,                                   -- not indexed: nothing looks events up by ID
    time    timestamptz NOT NULL,
    actor   text NOT NULL DEFAULT '',
    action  text NOT NULL DEFAULT '',
    project text NOT NULL DEFAULT '',
    service text NOT NULL DEFAULT '',
    target  text NOT NULL DEFAULT '',
    source  text NOT NULL DEFAULT '',
    detail  text NOT NULL DEFAULT ''
);
CREATE INDEX events_project_time ON events (project, time, seq);

-- +goose Down
DROP TABLE events;
DROP TABLE renewals;
DROP TABLE certificates;
DROP TABLE service_users;
DROP TABLE services;
DROP TABLE members;
DROP TABLE cas;
DROP TABLE projects;
DROP TABLE tokens;
DROP TABLE accounts;
