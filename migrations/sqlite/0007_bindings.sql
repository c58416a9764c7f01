-- Bindings (for accord-proxy): which contract a destination carries. `body` is the binding's
-- JSON document (protocol, destination pattern, subject or template, encoding, action).
CREATE TABLE bindings (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
