-- Submission counters per client address and time window, shared by every server process.
-- Old windows are pruned as new ones are counted.

CREATE TABLE rate_limits (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
