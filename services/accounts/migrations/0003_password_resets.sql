-- Password reset links: at most one live link per user (a new request
-- replaces the row, so the previous link stops working), stored as the
-- SHA-256 of the token only. Using a link deletes its row (single use);
-- an expired row is useless and replaced by the next request.
CREATE TABLE password_resets (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
