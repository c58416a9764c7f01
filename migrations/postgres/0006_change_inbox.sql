-- PostgreSQL writers no longer number their change-log entries inside their own transactions
-- (holding the counter row's lock through every commit serialised all writers): each change
-- inserts its entry here, in its own transaction, and right after the commit the entries waiting
-- here are numbered and moved to `changes` in one short transaction that holds `change_head`'s
-- row lock. Numbers stay gap-free (that transaction either moves and numbers a batch or nothing)
-- and visible in order. SQLite's writers are serialised anyway and number entries directly; the
-- table exists there too, unused, so both schemas stay alike.
CREATE TABLE change_inbox (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    context TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL
);
