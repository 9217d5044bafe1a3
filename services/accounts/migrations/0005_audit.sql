-- The access register: one row per sensitive action and customer concerned
-- (an action of a user who acts for two customers is written for both, so
-- each customer's admins read their own history, which stays as it was
-- even after the user leaves). Append-only: the triggers below refuse
-- UPDATE, DELETE and TRUNCATE to everyone, the service included.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    customer_id uuid NOT NULL,
    actor_id    uuid,          -- who acted (NULL: someone not signed in)
    subject_id  uuid,          -- whom it concerns (the user)
    action      text NOT NULL CHECK (action ~ '^[a-z_]{1,40}$'),
    address     text,          -- the client address
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_customer_idx ON audit_log (customer_id, id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
