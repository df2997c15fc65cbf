-- The server's own checks of the whole log (eventlog/verifications.py): every chain and seal, as `musrenbang
-- verify` checks them, soon after each server process starts and every MUSRENBANG_VERIFY_INTERVAL seconds,
-- one process at a time. The result is kept here so that every process's /health and `musrenbang status`
-- (another process) see it. Not a read model: nothing in the log rebuilds it, and `replay` leaves it alone.
-- Only the newest few rows are kept (the verifier deletes older ones).
CREATE TABLE log_verifications (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    events      bigint NOT NULL CHECK (events >= 0),
    intact      boolean NOT NULL,
    problems    integer NOT NULL DEFAULT 0 CHECK (problems >= 0),
    -- The first broken stream or seal as `verify` words it (NULL when intact), cut to a bounded length.
    problem     text CHECK (length(problem) <= 2000),
    CHECK (intact = (problems = 0) AND intact = (problem IS NULL))
);
