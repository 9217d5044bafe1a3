-- The sweep (src/sweep.c) deletes expired reset links and e-mail change
-- requests, and pending users whose activation link expired long ago (or
-- who have none and were made long ago): these indexes let it find them
-- without reading every row. A pending user's activation link is looked up
-- by its primary key (user_id).
CREATE INDEX email_changes_expires_idx ON email_changes (expires_at);
CREATE INDEX password_resets_expires_idx ON password_resets (expires_at);
CREATE INDEX users_pending_idx ON users (created_at) WHERE status = 'pending';
