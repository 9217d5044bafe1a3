-- billing: accounts counts the changes of each customer, contract and site
-- (the *Created event is version 1, each *Updated one more). The read model
-- keeps the version of each row, so that an update is written only over an
-- older one, and a *Created never undoes an update.
ALTER TABLE customers ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE contracts ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE sites ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
