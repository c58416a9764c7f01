-- Governance: teams and their subject claims, per-subject ownership metadata, the versioned lint
-- policy, API keys and the audit log. Documents are JSON in TEXT columns, as in 0001.

-- A team: {description, contacts: {email, chat}, claims: ["payments.", "^billing\\..*"]}.
CREATE TABLE teams (
    name       TEXT   PRIMARY KEY,
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Per subject (scope ':.ctx:subject'): {owner?, description, tags, domain, lifecycle, consumers}.
CREATE TABLE subject_governance (
    scope TEXT PRIMARY KEY,
    body  TEXT NOT NULL
);

-- Every version of the lint policy; the highest version is in force.
CREATE TABLE policies (
    version    BIGINT PRIMARY KEY,
    body       TEXT   NOT NULL,   -- the policy as JSON (normalized)
    source     TEXT   NOT NULL,   -- the document as sent (JSON or TOML)
    created_at BIGINT NOT NULL,
    created_by TEXT   NOT NULL
);

-- API keys. Only a SHA-256 of the secret is kept; secrets are 256 random bits.
CREATE TABLE api_keys (
    id          TEXT   PRIMARY KEY,
    secret_hash TEXT   NOT NULL,
    role        TEXT   NOT NULL,  -- admin | member | reader
    team        TEXT,             -- for members
    description TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

-- One row per mutation and per denied attempt, written in the transaction of the change.
CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
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
