-- billing: the read model fed by accounts, and the invoices it issues.

-- Read model (citerne.accounts.v1). Creation events are facts: first one wins.
CREATE TABLE customers (
    customer_id     uuid PRIMARY KEY,
    customer_number text NOT NULL,
    segment         text NOT NULL CHECK (segment IN ('household', 'business')),
    vat_rate_bp     integer NOT NULL CHECK (vat_rate_bp BETWEEN 0 AND 10000),
    name            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contracts (
    contract_id           uuid PRIMARY KEY,
    customer_id           uuid NOT NULL,
    delivery_mode         text NOT NULL CHECK (delivery_mode IN ('automatic', 'on_demand')),
    price_per_tonne_cents bigint NOT NULL CHECK (price_per_tonne_cents > 0),
    maintenance_plan      text NOT NULL
        CHECK (maintenance_plan IN ('none', 'preference', 'privilege', 'pacte_maintenance')),
    created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    site_id     uuid PRIMARY KEY,
    contract_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One gapless sequence per year of issue. The row is locked by the
-- INSERT ... ON CONFLICT DO UPDATE until the invoice's transaction ends, so
-- a rolled-back transaction leaves no gap and numbers follow commit order.
CREATE TABLE invoice_counters (
    year integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 9999),
    last bigint NOT NULL CHECK (last BETWEEN 1 AND 999999)
);

CREATE TABLE invoices (
    invoice_id       uuid PRIMARY KEY,
    number           text NOT NULL UNIQUE,
    year             integer NOT NULL,
    seq              bigint NOT NULL,
    customer_id      uuid NOT NULL,
    customer_number  text NOT NULL,
    order_id         uuid NOT NULL UNIQUE, -- exactly one invoice per order
    site_id          uuid NOT NULL,
    delivery_date    date NOT NULL,
    issue_date       date NOT NULL,
    total_excl_cents bigint NOT NULL CHECK (total_excl_cents >= 0),
    total_vat_cents  bigint NOT NULL CHECK (total_vat_cents >= 0),
    total_incl_cents bigint NOT NULL CHECK (total_incl_cents = total_excl_cents + total_vat_cents),
    cause_event_id   uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (year, seq)
);
CREATE INDEX invoices_by_customer ON invoices (customer_id, number);

CREATE TABLE invoice_lines (
    invoice_id        uuid NOT NULL REFERENCES invoices (invoice_id),
    position          integer NOT NULL,
    label             text NOT NULL,
    quantity          bigint NOT NULL,
    unit_price_cents  bigint NOT NULL,
    amount_excl_cents bigint NOT NULL,
    vat_rate_bp       integer NOT NULL CHECK (vat_rate_bp BETWEEN 0 AND 10000),
    PRIMARY KEY (invoice_id, position)
);

-- An issued invoice is never edited (corrections are credit notes).
CREATE FUNCTION billing_invoice_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an issued invoice is never edited (%)', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_immutable();
CREATE TRIGGER invoice_lines_immutable BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_immutable();
