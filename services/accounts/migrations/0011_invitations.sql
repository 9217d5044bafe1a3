-- Invitations of collaborators (src/api_collaborators.c, src/api_invitations.c).
-- Inviting an address answers the admin the same way whether or not it is an
-- account's, so an invitation has an id of its own (never the user's) and the
-- admin's list shows the address the admin typed and the name the admin gave
-- (or the address's local part), never the account's:
-- - an existing account (awaits_activation false): no grant until the person
--   accepts (POST /me/invitations/{id}/accept); expires_at ends it, the sweep
--   deletes it;
-- - a new address (awaits_activation true): the pending user made for it has
--   the grant already (it needs the activation link to be of any use); the row
--   only stands for it in the list until activation deletes it (or the pending
--   user goes, by cascade). expires_at is then the activation link's expiry.
-- A revocation deletes the row (and, awaiting activation, the pending grant).
CREATE TABLE collaborator_invitations (
    id                uuid PRIMARY KEY,
    customer_id       uuid NOT NULL REFERENCES customers (id),
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email             text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role              text NOT NULL CHECK (role IN ('admin', 'orderer', 'viewer')),
    invited_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    awaits_activation boolean NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    UNIQUE (customer_id, user_id)
);
CREATE INDEX collaborator_invitations_user_idx ON collaborator_invitations (user_id);
CREATE INDEX collaborator_invitations_expires_idx ON collaborator_invitations (expires_at)
    WHERE NOT awaits_activation;
