-- How many keys each rate-limit window has recorded, kept beside the keys: counting them on every request
-- cost more the busier the hour (issue 15). The keys stay: a retried request keeps its place by its key.
CREATE TABLE rate_limit_windows (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    n            integer     NOT NULL CHECK (n >= 0),
    PRIMARY KEY (bucket, window_start)
);

CREATE INDEX rate_limit_windows_window ON rate_limit_windows (window_start);

INSERT INTO rate_limit_windows (bucket, window_start, n)
SELECT bucket, window_start, count(*) FROM rate_limits GROUP BY bucket, window_start;
