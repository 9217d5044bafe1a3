-- A user's export (GET /api/v1/notify/me/export) reads their rows, newest
-- first; invitation rows (no user) are not in it.
CREATE INDEX notifications_by_user ON notifications (user_id, created_at)
    WHERE user_id IS NOT NULL;
