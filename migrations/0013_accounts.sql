-- Staff accounts and their sessions. Not events: credentials are security data, not planning decisions;
-- every action an account takes is an event that carries the actor and role in its metadata.

CREATE TABLE users (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z0-9._-]{3,40}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'facilitator', 'opd', 'auditor')),
    region        text REFERENCES regions (kode),
    opd           text,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'facilitator') = (region IS NOT NULL)),
    CHECK ((role = 'opd') = (opd IS NOT NULL))
);

-- Browser sessions and API tokens, shared by every server process. Only a hash of the token is kept.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    username   text NOT NULL REFERENCES users (username),
    kind       text NOT NULL CHECK (kind IN ('browser', 'api')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- Failed logins per username and per client address, to slow guessing down.
CREATE TABLE login_failures (
    key text        NOT NULL,
    at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_failures_key_at ON login_failures (key, at);
