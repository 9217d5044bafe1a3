-- Orders: read models of customers, contracts and sites (from accounts' events), the
-- orders themselves and the threshold crossings received (from telemetry).
CREATE TABLE customers (
    customer_id uuid PRIMARY KEY,
    segment     text NOT NULL CHECK (segment IN ('household', 'business')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contracts (
    contract_id   uuid PRIMARY KEY,
    customer_id   uuid NOT NULL,
    delivery_mode text NOT NULL CHECK (delivery_mode IN ('automatic', 'on_demand')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    site_id              uuid PRIMARY KEY,
    customer_id          uuid NOT NULL,
    contract_id          uuid,
    delivery_mode        text NOT NULL CHECK (delivery_mode IN ('automatic', 'on_demand')),
    capacity_kg          integer NOT NULL CHECK (capacity_kg > 0),
    certificate_received boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    order_id        uuid PRIMARY KEY,
    site_id         uuid NOT NULL REFERENCES sites (site_id),
    customer_id     uuid NOT NULL,
    status          text NOT NULL CHECK (status IN ('proposed', 'scheduled', 'delivered')),
    delivery_mode   text NOT NULL CHECK (delivery_mode IN ('automatic', 'on_demand')),
    quantity_kg     integer NOT NULL CHECK (quantity_kg > 0),
    speed           text NOT NULL
                    CHECK (speed IN ('standard', 'express_8d', 'express_48h', 'express_24h')),
    delivery_date   date,          -- scheduled date; the delivery day once delivered
    delivered_kg    integer CHECK (delivered_kg > 0),
    level_after_pct integer CHECK (level_after_pct BETWEEN 0 AND 100),
    -- the event chain of the order, so later events continue it
    correlation_id  uuid NOT NULL,
    last_event_id   uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'proposed' OR delivery_date IS NOT NULL),
    CHECK ((status = 'delivered') = (delivered_kg IS NOT NULL))
);
-- At most one open order per site: a crossing while one is open is ignored.
CREATE UNIQUE INDEX orders_one_open_per_site ON orders (site_id)
    WHERE status IN ('proposed', 'scheduled');
CREATE INDEX orders_site_created ON orders (site_id, created_at DESC, order_id DESC);
CREATE INDEX orders_status_date ON orders (status, delivery_date);

-- Every TankThresholdCrossed received, and what came of it.
CREATE TABLE crossings (
    event_id      uuid PRIMARY KEY,
    site_id       uuid NOT NULL REFERENCES sites (site_id),
    level_pct     integer NOT NULL,
    threshold_pct integer NOT NULL,
    measured_at   timestamptz NOT NULL,
    source        text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('ordered', 'open_order')),
    order_id      uuid REFERENCES orders (order_id),
    received_at   timestamptz NOT NULL DEFAULT now()
);
