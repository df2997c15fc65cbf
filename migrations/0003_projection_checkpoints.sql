-- Where each projection stands in the safe global order. Written in the same transaction as the
-- projection's rows, so a crash neither loses nor repeats an event.

CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY,
    tx         xid8        NOT NULL DEFAULT '0',
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
