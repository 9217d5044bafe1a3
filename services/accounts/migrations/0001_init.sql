-- accounts: customers, contracts, sites, users and their grants.
-- Ids are UUIDv7 made by the service (so events carry them without a round
-- trip); the checks repeat the service's rules so that no path can store a
-- value the rules refuse.

CREATE TABLE customers (
    id              uuid PRIMARY KEY,
    customer_number text NOT NULL UNIQUE CHECK (customer_number ~ '^C[0-9]{6,10}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    segment         text NOT NULL CHECK (segment IN ('household', 'business')),
    vat_rate_bp     integer NOT NULL DEFAULT 2000 CHECK (vat_rate_bp IN (550, 1000, 2000)),
    siret           text CHECK (siret ~ '^[0-9]{14}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_siret_iff_business CHECK ((segment = 'business') = (siret IS NOT NULL))
);

CREATE TABLE contracts (
    id                    uuid PRIMARY KEY,
    customer_id           uuid NOT NULL REFERENCES customers (id),
    delivery_mode         text NOT NULL CHECK (delivery_mode IN ('automatic', 'on_demand')),
    price_per_tonne_cents bigint NOT NULL CHECK (price_per_tonne_cents BETWEEN 1 AND 10000000),
    maintenance_plan      text NOT NULL DEFAULT 'none'
        CHECK (maintenance_plan IN ('none', 'preference', 'privilege', 'pacte_maintenance')),
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_customer_idx ON contracts (customer_id);

CREATE TABLE sites (
    id                   uuid PRIMARY KEY,
    contract_id          uuid NOT NULL REFERENCES contracts (id),
    customer_id          uuid NOT NULL REFERENCES customers (id),
    capacity_kg          integer NOT NULL CHECK (capacity_kg BETWEEN 100 AND 100000),
    threshold_pct        integer NOT NULL DEFAULT 30 CHECK (threshold_pct BETWEEN 5 AND 80),
    address              text NOT NULL CHECK (length(address) BETWEEN 1 AND 300),
    certificate_received boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_contract_idx ON sites (contract_id);
CREATE INDEX sites_customer_idx ON sites (customer_id);

-- A user is a person who signs in; user_customers says which customers they
-- act for and with which role. status and a nullable password_hash leave room
-- for sign-up by activation link (pending until the password is set) and for
-- disabling a user; 2FA, resets and the audit log come with their own tables.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    phone         text CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash text,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'disabled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_active_has_password CHECK (status <> 'active' OR password_hash IS NOT NULL)
);

CREATE TABLE user_customers (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    customer_id uuid NOT NULL REFERENCES customers (id),
    role        text NOT NULL CHECK (role IN ('admin', 'orderer', 'viewer')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, customer_id)
);
CREATE INDEX user_customers_customer_idx ON user_customers (customer_id);
