-- Back-office updates: each customer, contract and site counts its changes.
-- A creation is version 1 (rows made before this migration too); every
-- update adds 1 in the transaction that emits CustomerUpdated,
-- ContractUpdated or SiteUpdated with the new number, so a consumer applies
-- an update only over an older version of its read model.
ALTER TABLE customers ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE contracts ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE sites ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
