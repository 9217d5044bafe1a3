-- notify: accounts counts each customer's changes (CustomerCreated is
-- version 1, each CustomerUpdated one more); the read model keeps the
-- version of each row, so that an update is written only over an older one
-- and a CustomerCreated never undoes an update.
ALTER TABLE customers ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
