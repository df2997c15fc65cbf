-- Secrets shared by every server process (signing CSRF tokens, deriving revision secrets). Generated
-- once on first start; not part of the event log and never exported.

CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL CHECK (length(value) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
