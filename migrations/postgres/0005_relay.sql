-- Relays of the change log to other systems (the Kafka relay): how far each has been
-- acknowledged, and which instance holds its lease. One instance relays at a time: it claims the
-- row when `owner` is empty or `lease_until` (Unix ms) has passed, and renews it while it runs.
-- `position` is the highest sequence the destination acknowledged; it only grows.
CREATE TABLE relays (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    owner TEXT,
    lease_until BIGINT NOT NULL
);
