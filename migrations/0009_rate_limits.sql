-- New submissions per client address and hour, shared by every server process. One row per distinct
-- request (idempotency key), so retries of one submission count once. Old windows are pruned as new
-- ones begin.

CREATE TABLE rate_limits (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    request_key  text        NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (bucket, window_start, request_key)
);

CREATE INDEX rate_limits_window ON rate_limits (window_start);
