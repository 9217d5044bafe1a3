-- Sign-up: a customer proves who they are with their customer number and
-- either a phone number on file or one of their invoice numbers.
-- customers.phone is the back office's; customer_invoices is a read model of
-- billing's InvoiceIssued (accounts never reads billing's database).
ALTER TABLE customers ADD COLUMN phone text CHECK (phone ~ '^\+[1-9][0-9]{7,14}$');

CREATE TABLE customer_invoices (
    customer_id    uuid NOT NULL,
    invoice_number text NOT NULL,
    issue_date     date,
    PRIMARY KEY (customer_id, invoice_number)
);

-- Activation links of pending users: one live link per user (a new request
-- replaces it), the SHA-256 of the token only, single use.
CREATE TABLE user_activations (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
