-- The platform's own tables: the transactional outbox and the inbox of
-- consumed event ids (see platform/include/citerne/outbox.h and inbox.h).

-- Events appended in a business transaction, published by the relay in id
-- order and marked sent after the broker's acknowledgement.
CREATE TABLE ct_outbox (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key text,              -- NULL: no record key
    payload bytea NOT NULL,
    event_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
-- The relay reads only unsent rows, in id order.
CREATE INDEX ct_outbox_unsent ON ct_outbox (id) WHERE sent_at IS NULL;
-- Cleanup of sent rows by age.
CREATE INDEX ct_outbox_sent_at ON ct_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Ids of consumed events: a duplicate delivery finds its id here.
CREATE TABLE ct_inbox (
    event_id uuid PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);
