-- notify: the account notifications of accounts' events (links, sensitive
-- activity, invitations), the users' profiles and preferences, and closed
-- users.

-- New kinds of notification.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
    'order_proposed', 'delivery_scheduled', 'delivery_confirmed', 'invoice_issued',
    'password_reset_requested', 'activation_requested', 'password_changed', 'totp_disabled',
    'new_device_signed_in', 'customer_linked', 'collaborator_added', 'collaborator_invited',
    'collaborator_removed'));

-- An invitation to an address that has no user in the read model is keyed
-- on the address: no user_id, unique per (cause event, channel, recipient).
ALTER TABLE notifications ALTER COLUMN user_id DROP NOT NULL;
CREATE UNIQUE INDEX notifications_once_per_address ON notifications
    (cause_event_id, channel, recipient) WHERE user_id IS NULL;

-- Set when the body carries a single-use link (reset, activation,
-- invitation): until when it works. Once the row is sent or failed, or the
-- link has expired, the body is replaced by a placeholder, so the table does
-- not keep usable links.
ALTER TABLE notifications ADD COLUMN link_expires_at timestamptz;
CREATE INDEX notifications_live_links ON notifications (link_expires_at)
    WHERE link_expires_at IS NOT NULL AND status = 'pending';

-- The whole profile from UserProfileUpdated: it wins over the contact
-- details of UserCreated (a profile event may come before the UserCreated of
-- another customer: topics are ordered per customer only). preferences:
-- {"invoice_issued": "sms", ...}; a kind not listed is "both".
CREATE TABLE user_profiles (
    user_id     uuid PRIMARY KEY,
    email       text NOT NULL,
    phone       text NOT NULL,
    name        text NOT NULL,
    preferences jsonb NOT NULL DEFAULT '{}',
    occurred_at bigint NOT NULL -- of the event, Unix ms: an older one does not win
);

-- Users who closed their account: their read-model rows are gone and a late
-- UserCreated or profile (from another partition) does not bring them back.
CREATE TABLE closed_users (
    user_id   uuid PRIMARY KEY,
    closed_at timestamptz NOT NULL
);
