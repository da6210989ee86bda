-- A digest deletes the notices it gathers instead of marking them with its
-- notification's ID.
--
-- Nothing read a digested notice again: the notification keeps what it
-- said (its text, HTML and webhook payload list every user), and the
-- events keep the history. Marked notices only piled up, tens of
-- thousands per bulk renewal, and marking them rewrote each row; on
-- PostgreSQL that was a new row version and index entries per notice, and
-- deleting costs a quarter of it. So the notices table holds only what is
-- pending, notification_id has nothing to say, and notices_pending needs
-- no condition. The notices marked before this migration were digested:
-- they go, or dropping the column would make them pending again.
-- The schema of internal/sqlite has the same change and numbering.
--
-- Down brings the column back empty, at the end of the table where 00002
-- put it; the notices deleted by Up stay deleted.

-- +goose Up
DELETE FROM notices WHERE notification_id IS NOT NULL;
DROP INDEX notices_pending;
ALTER TABLE notices DROP COLUMN notification_id;
-- ListPendingNotices: oldest first.
CREATE INDEX notices_pending ON notices (create_time, seq);

-- +goose Down
DROP INDEX notices_pending;
ALTER TABLE notices ADD COLUMN notification_id text;
CREATE INDEX notices_pending ON notices (create_time, seq) WHERE notification_id IS NULL;
