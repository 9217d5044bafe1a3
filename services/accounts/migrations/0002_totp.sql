-- Two-factor authentication (TOTP, RFC 6238). The secret is sealed with
-- crypto_secretbox under CITERNE_ACCOUNTS_SECRET_KEY (nonce || box, the
-- plaintext bound to the user id), so a dump of the database holds no usable
-- secret. last_step is the last time step accepted: a code is accepted only
-- for a later step, so none is accepted twice.
CREATE TABLE user_totp (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_box   bytea NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT -1,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Ten single-use recovery codes per user with 2FA, SHA-256 of the code
-- (80 random bits: a fast hash is enough), each usable once.
CREATE TABLE user_recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
