-- notify: the read model of customers and their users, and the log of
-- notifications (the queue the sender works from).

CREATE TABLE customers (
    customer_id     uuid PRIMARY KEY,
    customer_number text NOT NULL,
    name            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A user may be granted on several customers: one row per (user, customer).
CREATE TABLE users (
    user_id     uuid NOT NULL,
    customer_id uuid NOT NULL,
    email       text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    name        text NOT NULL DEFAULT '',
    role        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, customer_id)
);
CREATE INDEX users_by_customer ON users (customer_id);

CREATE TABLE notifications (
    notification_id uuid PRIMARY KEY,
    customer_id     uuid NOT NULL,
    user_id         uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('order_proposed', 'delivery_scheduled',
                                                  'delivery_confirmed', 'invoice_issued')),
    channel         text NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient       text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    body            text NOT NULL,
    cause_event_id  uuid NOT NULL,
    correlation_id  uuid NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- when pending: the next attempt; while a sender holds the row, the end
    -- of its lease (a crashed sender's rows come back when it expires)
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (cause_event_id, user_id, channel) -- each event is told once per user and channel
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at);
