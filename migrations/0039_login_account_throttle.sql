-- Wrong passwords for one username counted over every address (migration 0020 counts them per username
-- *and* address, so an attacker with many addresses — the /64s of one IPv6 /48, a botnet — had a few free
-- guesses from each). At most a fixed number of attempts per username in a window that starts with the
-- first one; then that username waits until the window is over, except from an address where it signed in
-- before (services/login_throttle.py says why).

CREATE TABLE login_account_throttle (
    username     text        PRIMARY KEY,   -- as typed: unknown usernames are counted exactly like real ones
    window_start timestamptz NOT NULL,
    failures     integer     NOT NULL CHECK (failures >= 0)
);

CREATE INDEX login_account_throttle_window ON login_account_throttle (window_start);

-- Where each account signed in successfully of late (the address as the limits count it: an IPv6 address
-- by its /64). Only a correct password writes here, so an attacker cannot add rows; rows older than the
-- time they are trusted for are deleted on every sign-in.
CREATE TABLE login_known_clients (
    username     text        NOT NULL,
    client       text        NOT NULL,
    last_success timestamptz NOT NULL,
    PRIMARY KEY (username, client)
);

CREATE INDEX login_known_clients_last_success ON login_known_clients (last_success);
