-- The keys of certificates and renewals to their service user, and of
-- notices to their project, become a trigger on the parent that deletes
-- them with it, and locks that their writers take.
--
-- PostgreSQL checks a foreign key with a trigger per row that runs a query
-- (through SPI) to lock the parent's row: three per renewal a sweep writes,
-- on the server, which shares the machine's cores with the sweep. With the
-- locks below instead, writing a batch of renewals took 118, 115 and 137 µs
-- a renewal against 129, 125 and 144 with the keys (BenchmarkCreateRenewals
-- /batch, alternated). Every writer of
-- these rows locks the parent itself, once: CreateCertificate and
-- CreateRenewals lock the users (FOR NO KEY UPDATE), CreateRenewal its user
-- and CreateNotice its project (FOR KEY SHARE, as a key does), and
-- CreateRenewals the projects of its notices. A delete of the parent waits
-- for those locks; then its trigger deletes the rows of the deleted parents,
-- those just committed too (each statement of the trigger takes a new
-- snapshot under READ COMMITTED). A delete that came first leaves the
-- writer's lock no row to find, and the writer says ENOTFOUND, as the key
-- made it say. Deletes through a cascade (a service's, a project's) fire
-- the triggers too.
--
-- SQLite keeps its keys (its 00005 changes nothing): there a check is a
-- seek of the parent's primary key, cheap and on the writer's connection.

-- +goose Up
ALTER TABLE certificates DROP CONSTRAINT certificates_user_fk;
ALTER TABLE renewals DROP CONSTRAINT renewals_user_fk;
ALTER TABLE notices DROP CONSTRAINT notices_project_fk;

-- +goose StatementBegin
CREATE FUNCTION service_users_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM renewals WHERE user_id IN (SELECT id FROM gone);
    DELETE FROM certificates WHERE user_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER service_users_deleted AFTER DELETE ON service_users
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION service_users_deleted();

-- +goose StatementBegin
CREATE FUNCTION projects_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM notices WHERE project IN (SELECT name FROM gone);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER projects_deleted AFTER DELETE ON projects
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION projects_deleted();

-- +goose Down
DROP TRIGGER projects_deleted ON projects;
DROP FUNCTION projects_deleted();
DROP TRIGGER service_users_deleted ON service_users;
DROP FUNCTION service_users_deleted();
ALTER TABLE notices ADD CONSTRAINT notices_project_fk
    FOREIGN KEY (project) REFERENCES projects (name) ON DELETE CASCADE;
ALTER TABLE renewals ADD CONSTRAINT renewals_user_fk
    FOREIGN KEY (user_id) REFERENCES service_users (id) ON DELETE CASCADE;
ALTER TABLE certificates ADD CONSTRAINT certificates_user_fk
    FOREIGN KEY (user_id) REFERENCES service_users (id) ON DELETE CASCADE;
