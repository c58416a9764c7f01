-- The change log: one entry per committed change, written in the change's own transaction.
-- `change_head` is the counter: a writer takes its row lock by incrementing it, so sequence
-- numbers are gap-free (a rollback undoes the increment) and commit-ordered (the next writer
-- waits for the lock until this one commits). `pruned_through` is the highest sequence that
-- retention has removed: readers asking for older entries are told to resync.
CREATE TABLE change_head (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    pruned_through BIGINT NOT NULL
);
INSERT INTO change_head (id, seq, pruned_through) VALUES (1, 0, 0);

CREATE TABLE changes (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    context TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL
);
