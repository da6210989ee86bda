-- kcred schema on SQLite.
--
-- Times are TEXT in one fixed-width UTC form, 2006-01-02T15:04:05.000000Z,
-- so that comparing the text compares the times; NULL is the zero time.
-- Durations are INTEGER nanoseconds (time.Duration, full precision).
-- The schema of internal/postgres has the same tables, columns and numbering.

-- +goose Up
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    real_name     TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    superuser     INTEGER NOT NULL DEFAULT 0,
    create_time   TEXT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash        BLOB NOT NULL UNIQUE,
    prefix      TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    create_time TEXT NOT NULL,
    expiry_time TEXT
);
CREATE INDEX tokens_account_id ON tokens (account_id);

CREATE TABLE projects (
    name            TEXT PRIMARY KEY,
    tech_emails     TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    key_type        TEXT NOT NULL DEFAULT '',
    validity_ns     INTEGER NOT NULL DEFAULT 0,
    renew_before_ns INTEGER NOT NULL DEFAULT 0,
    reminders_ns    TEXT,                       -- JSON array of nanoseconds; NULL: the server's schedule
    ca_generation   INTEGER NOT NULL DEFAULT 0,
    create_time     TEXT NOT NULL
);

CREATE TABLE cas (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    generation  INTEGER NOT NULL,
    cert_pem    TEXT NOT NULL,
    sealed_key  BLOB NOT NULL,
    not_after   TEXT NOT NULL,
    create_time TEXT NOT NULL,
    UNIQUE (project, generation)
);

CREATE TABLE members (
    project     TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    create_time TEXT NOT NULL,
    PRIMARY KEY (project, account_id)
);
CREATE INDEX members_account_project ON members (account_id, project); -- ListProjectsByMember, in order

CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    uri         TEXT NOT NULL DEFAULT '',
    tech_emails TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE service_users (
    id                   TEXT PRIMARY KEY,
    service_id           TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    username             TEXT NOT NULL,
    type                 TEXT NOT NULL,
    sealed_password      BLOB NOT NULL,
    access_control       TEXT NOT NULL DEFAULT '',
    create_time          TEXT NOT NULL,
    password_update_time TEXT,
    UNIQUE (service_id, username)
) WITHOUT ROWID; -- small rows: the primary key is the table, one B-tree less to write

CREATE TABLE certificates (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES service_users (id) ON DELETE CASCADE,
    generation    INTEGER NOT NULL,
    serial        TEXT NOT NULL,
    subject       TEXT NOT NULL DEFAULT '',
    key_type      TEXT NOT NULL,
    not_before    TEXT NOT NULL,
    not_after     TEXT NOT NULL,
    cert_pem      TEXT NOT NULL,
    sealed_key    BLOB NOT NULL,
    reason        TEXT NOT NULL,
    ca_generation INTEGER NOT NULL,
    create_time   TEXT NOT NULL,
    UNIQUE (user_id, generation)
);
-- Renewal sweeps select by expiry.
CREATE INDEX certificates_not_after ON certificates (not_after);

CREATE TABLE renewals (
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
    closed_at        TEXT
);
-- At most one open renewal per user: what makes renewal exactly-once.
CREATE UNIQUE INDEX renewals_one_open ON renewals (user_id) WHERE closed_at IS NULL;
-- Reminder and expiry sweeps look only at open renewals, by the old expiry.
CREATE INDEX renewals_open_old_not_after ON renewals (old_not_after) WHERE closed_at IS NULL;
-- Cascading deletes look renewals up by user and by certificate.
CREATE INDEX renewals_user_id ON renewals (user_id);
CREATE INDEX renewals_old_cert_id ON renewals (old_cert_id);
CREATE INDEX renewals_new_cert_id ON renewals (new_cert_id);

-- Events have no foreign key: some are about no project (logins), and the
-- event of a project's deletion outlives the project. The trigger below
-- deletes a project's events with it.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY, -- insertion order, breaks ties of time
    id      TEXT NOT NULL,       -- not indexed: nothing looks events up by ID
    time    TEXT NOT NULL,
    actor   TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL DEFAULT '',
    project TEXT NOT NULL DEFAULT '',
    service TEXT NOT NULL DEFAULT '',
    target  TEXT NOT NULL DEFAULT '',
    source  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_project_time ON events (project, time, seq);

-- +goose StatementBegin
CREATE TRIGGER projects_delete_events AFTER DELETE ON projects
BEGIN
    DELETE FROM events WHERE project = OLD.name;
END;
-- +goose StatementEnd

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
