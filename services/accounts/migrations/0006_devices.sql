-- The devices a user signed in from: the SHA-256 of the random id in the
-- browser's long-lived "citerne_device" cookie. A sign-in from a device not
-- seen before (when the user had others) is told to the user
-- (NewDeviceSignedIn).
CREATE TABLE user_devices (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device     bytea NOT NULL CHECK (length(device) = 32),
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, device)
);
