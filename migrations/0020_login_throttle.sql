-- Failed logins slow down the next attempt for the same username from the same address, with a growing
-- delay instead of a hard lock (which let anyone lock any account, and one address lock everyone behind a
-- shared NAT). One row per (username, address); an attempt reserves its place with one statement on that
-- row, so concurrent guesses cannot slip past the count (services/accounts.py).

DROP TABLE login_failures;

CREATE TABLE login_throttle (
    key       text        PRIMARY KEY,   -- username and client address
    failures  integer     NOT NULL DEFAULT 0,
    next_try  timestamptz NOT NULL DEFAULT now(),
    last_try  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_throttle_last_try ON login_throttle (last_try);

-- How long the next attempt waits after `failures` wrong passwords in a row: the first four cost nothing
-- (typing mistakes), then 1 s, 2 s, 4 s ... doubling up to 15 minutes.
CREATE FUNCTION login_delay(failures integer) RETURNS interval LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN failures <= 4 THEN interval '0'
                ELSE least(interval '1 second' * power(2, least(failures - 5, 20)), interval '15 minutes') END
$$;
