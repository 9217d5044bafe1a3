-- Versions of the read models: accounts' CustomerUpdated, ContractUpdated and
-- SiteUpdated carry the whole state with a version counting the changes (the
-- Created event is version 1); an update is applied only over an older one.
ALTER TABLE customers ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0);
ALTER TABLE contracts ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0);
ALTER TABLE sites ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0);

-- No first delivery without a certificate of conformity: an order that would
-- be scheduled for a site that never had a delivery and whose certificate is
-- not received waits in 'awaiting_certificate' (no delivery date yet) until
-- a SiteUpdated brings the certificate. It is open: it blocks new orders of
-- the site like a proposed or scheduled one.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('proposed', 'awaiting_certificate', 'scheduled', 'delivered'));
ALTER TABLE orders DROP CONSTRAINT orders_check;
ALTER TABLE orders ADD CONSTRAINT orders_check
    CHECK (status IN ('proposed', 'awaiting_certificate') OR delivery_date IS NOT NULL);
DROP INDEX orders_one_open_per_site;
CREATE UNIQUE INDEX orders_one_open_per_site ON orders (site_id)
    WHERE status IN ('proposed', 'awaiting_certificate', 'scheduled');
