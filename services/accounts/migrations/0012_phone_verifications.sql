-- Proving a new phone number: a user's one pending number (a new one or a
-- new code replaces the row, so the previous code stops working), the keyed
-- BLAKE2b of its 6-digit code (the key derives from
-- CITERNE_ACCOUNTS_SECRET_KEY: a plain hash of 10^6 codes would be reversed
-- offline), how many wrong tries it has left (0: void until a new code), an
-- expiry. Verifying deletes the row in the transaction that sets users.phone.
CREATE TABLE phone_verifications (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phone      text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    code_hash  bytea NOT NULL CHECK (length(code_hash) = 32),
    tries_left smallint NOT NULL CHECK (tries_left BETWEEN 0 AND 5),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
