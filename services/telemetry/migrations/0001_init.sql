-- Telemetry: the read model of sites (from accounts' SiteCreated) with the
-- threshold episode state of each, and the tank readings.
CREATE TABLE sites (
    site_id          uuid PRIMARY KEY,
    customer_id      uuid NOT NULL,
    capacity_kg      integer NOT NULL CHECK (capacity_kg > 0),
    threshold_pct    integer NOT NULL CHECK (threshold_pct BETWEEN 1 AND 100),
    -- episode state: armed until a reading goes below the threshold, re-armed
    -- by a reading at or above threshold + 10 (see README)
    armed            boolean NOT NULL DEFAULT true,
    last_measured_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE readings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     uuid NOT NULL REFERENCES sites (site_id),
    level_pct   smallint NOT NULL CHECK (level_pct BETWEEN 0 AND 100),
    measured_at timestamptz NOT NULL,
    source      text NOT NULL CHECK (source IN ('sensor', 'customer', 'driver')),
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX readings_site_measured ON readings (site_id, measured_at DESC, id DESC);
