-- Why a projection is not moving. Its worker records the event it failed on (position, type, error) and
-- how many times in a row; the next batch that commits clears it. Kept beside the checkpoint so that
-- /health and `musrenbang status` in any process report what the worker in another process sees.

ALTER TABLE projection_checkpoints
    ADD COLUMN failures         integer NOT NULL DEFAULT 0,
    ADD COLUMN failing_position bigint,
    ADD COLUMN failing_type     text,
    ADD COLUMN error            text,
    ADD COLUMN failing_since    timestamptz;
