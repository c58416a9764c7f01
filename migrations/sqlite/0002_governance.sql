-- Governance: teams and their subject claims, per-subject ownership metadata, the versioned lint
-- policy, API keys and the audit log. Documents are JSON in TEXT columns, as in 0001.

-- A team: {description, contacts: {email, chat}, claims: ["payments.", "^billing\\..*"]}.
CREATE TABLE teams (
    name       TEXT   PRIMARY KEY,
    body       TEXT   NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Per subject (scope ':.ctx:subject'): {owner?, description, tags, domain, lifecycle, consumers}.
CREATE TABLE subject_governance (
    scope TEXT PRIMARY KEY,
    body  TEXT NOT NULL
);

-- Every version of the lint policy; the highest version is in force.
CREATE TABLE policies (
    version    INTEGER PRIMARY KEY,
    body       TEXT   NOT NULL,   -- the policy as JSON (normalized)
    source     TEXT   NOT NULL,   -- the document as sent (JSON or TOML)
    created_at INTEGER NOT NULL,
    created_by TEXT   NOT NULL
);

-- API keys. Only a SHA-256 of the secret is kept; secrets are 256 random bits.
CREATE TABLE api_keys (
    id          TEXT   PRIMARY KEY,
    secret_hash TEXT   NOT NULL,
    role        TEXT   NOT NULL,  -- admin | member | reader
    team        TEXT,             -- for members
    description TEXT   NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);

-- One row per mutation and per denied attempt, written in the transaction of the change.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    principal  TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,   -- ok | denied
    subject    TEXT,              -- qualified subject, when the target is one
    team       TEXT,
    target     TEXT   NOT NULL,
    before     TEXT,              -- JSON
    after      TEXT,              -- JSON
    request_id TEXT,
    detail     TEXT
);
CREATE INDEX audit_by_subject ON audit_log (subject, id);
CREATE INDEX audit_by_principal ON audit_log (principal, id);
CREATE INDEX audit_by_at ON audit_log (at);

-- 0001 declared id_sequences.next_id as `INTEGERNOT NULL` (a typo SQLite reads as a type name
-- and a NULL constraint); rebuild the table with the intended NOT NULL.
CREATE TABLE id_sequences_fixed (
    context TEXT    PRIMARY KEY,
    next_id INTEGER NOT NULL
);
INSERT INTO id_sequences_fixed (context, next_id) SELECT context, next_id FROM id_sequences;
DROP TABLE id_sequences;
ALTER TABLE id_sequences_fixed RENAME TO id_sequences;
