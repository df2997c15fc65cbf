-- The event log: the one source of truth. Every change of state is a row here; read models are derived.
-- Ordering for readers is (tx, global_position), never global_position alone: positions are handed out at
-- insert time but become visible at commit time (see musrenbang/eventlog/store.py).

CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL CHECK (stream_id <> ''),
    stream_version  integer     NOT NULL CHECK (stream_version >= 1),
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL,
    tx              xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- sha256(hash of the previous event in the stream || canonical bytes of this event)
    hash            bytea       NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- The safe global order that projections follow.
CREATE INDEX events_tx_position ON events (tx, global_position);
