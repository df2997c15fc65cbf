-- Reading all streams that share a prefix (every ballot stream of one forum) with LIKE 'prefix%',
-- whatever the database's collation.

CREATE INDEX events_stream_prefix ON events (stream_id text_pattern_ops);
