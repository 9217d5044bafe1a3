-- Telemetry: accounts counts each site's changes (SiteCreated is version 1,
-- each SiteUpdated one more); a site's row keeps the version it holds, so
-- that an update applies only over an older one.
ALTER TABLE sites ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
