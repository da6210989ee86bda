-- Nothing changes here. On PostgreSQL, 00005 turns the keys of
-- certificates and renewals to their service user, and of notices to their
-- project, into triggers and locks, because each key check there is a
-- query per row run on the server's share of the cores. SQLite checks a key
-- with one seek of the parent's primary key on the writer's own
-- connection, and keeps its keys. The number keeps the two schemas'
-- histories in step.

-- +goose Up

-- +goose Down
