-- The registry's data model. Every row carries the Confluent context ('.' is the default one), so
-- qualified subjects and per-context id spaces need no migration later.

-- One row per distinct schema within a context. `id` is the global schema id clients embed in
-- messages; it is immutable. `fingerprint` is the identity (type, canonical text, references,
-- metadata, ruleSet); `content_hash` covers only type, text and references, for lookups.
CREATE TABLE schemas (
    context      TEXT    NOT NULL,
    id           INTEGER NOT NULL,
    schema_type  TEXT    NOT NULL,
    schema_text  TEXT    NOT NULL,
    refs         TEXT    NOT NULL,   -- JSON array of {name, subject, version}
    metadata     TEXT,               -- JSON, as sent
    rule_set     TEXT,               -- JSON, as sent
    fingerprint  TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,   -- Unix milliseconds
    PRIMARY KEY (context, id),
    UNIQUE (context, fingerprint)
);
CREATE INDEX schemas_by_content ON schemas (context, content_hash);

-- A subject's versions. Versions are never reused: soft delete flips `deleted`, a permanent
-- delete removes the row, and the next version is max(version)+1 over the rows that remain.
CREATE TABLE subject_versions (
    context    TEXT     NOT NULL,
    subject    TEXT     NOT NULL,
    version    INTEGER  NOT NULL,
    schema_id  INTEGER  NOT NULL,
    deleted    BOOLEAN  NOT NULL DEFAULT FALSE,
    created_at INTEGER  NOT NULL,
    PRIMARY KEY (context, subject, version),
    FOREIGN KEY (context, schema_id) REFERENCES schemas (context, id)
);
CREATE INDEX subject_versions_by_schema ON subject_versions (context, schema_id);

-- Which schema references which subject version; answers `referencedby` and guards deletes.
CREATE TABLE schema_references (
    context     TEXT    NOT NULL,
    schema_id   INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    ref_context TEXT    NOT NULL,
    ref_subject TEXT    NOT NULL,
    ref_version INTEGER NOT NULL,
    PRIMARY KEY (context, schema_id, name),
    FOREIGN KEY (context, schema_id) REFERENCES schemas (context, id) ON DELETE CASCADE
);
CREATE INDEX schema_references_by_target ON schema_references (ref_context, ref_subject, ref_version);

-- The next id to hand out per context (a row lock serialises allocation across processes).
CREATE TABLE id_sequences (
    context TEXT   PRIMARY KEY,
    next_id INTEGERNOT NULL
);

-- Compatibility config and mode per scope: '__GLOBAL', ':.ctx:' (a context) or ':.ctx:subject'.
CREATE TABLE configs (
    scope TEXT PRIMARY KEY,
    body  TEXT NOT NULL            -- JSON Config
);
CREATE TABLE modes (
    scope TEXT PRIMARY KEY,
    mode  TEXT NOT NULL
);
