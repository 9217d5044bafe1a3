-- How each user wants to hear of each kind of message notify sends. A kind
-- without a row is "both" (e-mail and SMS, as notify did before).
CREATE TABLE user_preferences (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    text NOT NULL CHECK (kind IN ('order_proposed', 'delivery_scheduled',
                                          'delivery_confirmed', 'invoice_issued')),
    channel text NOT NULL CHECK (channel IN ('email', 'sms', 'both', 'none')),
    PRIMARY KEY (user_id, kind)
);
