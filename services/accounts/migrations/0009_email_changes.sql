-- Changing the sign-in e-mail: a user's one live change request (a new
-- request replaces the row, so the previous link stops working), the
-- SHA-256 of the token only, the address asked for, an expiry. Confirming
-- deletes the row (single use) in the transaction that changes the e-mail.
-- new_email is not unique here: it is checked against users when the link is
-- used (the address may have been taken meanwhile).
CREATE TABLE email_changes (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    new_email  text NOT NULL CHECK (new_email = lower(new_email) AND length(new_email) BETWEEN 3 AND 254),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
