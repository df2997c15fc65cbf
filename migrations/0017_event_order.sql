-- The safe global order, made to survive backup, restore and a move to another server, and to ignore the
-- transactions of other databases on the same server. Design and proof: musrenbang/eventlog/order.py.
--
-- `events.tx` and `projection_checkpoints.tx` become an *order key*: this cluster's transaction id plus a
-- per-database offset. Transaction ids belong to one PostgreSQL cluster; after a restore into a cluster
-- whose counter is lower, `rebase_event_order()` raises the offset so that every new key sorts after every
-- restored one. The keys already stored never change, so checkpoints, seals and read models stay valid.

CREATE TABLE event_order (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    order_offset bigint  NOT NULL DEFAULT 0 CHECK (order_offset >= 0)
);
INSERT INTO event_order DEFAULT VALUES;

-- The order key of the calling transaction's events.
CREATE FUNCTION event_order_key() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id()::text::bigint + order_offset FROM event_order
$$;

-- Every event whose key is below this has been committed (or rolled back) for good: no transaction that
-- can still write to this database's log has a smaller key. It is the oldest transaction still running
-- *in this database* (or the snapshot's xmax when none is), not pg_snapshot_xmin, which is cluster-wide.
-- A running transaction counts as foreign only when pg_stat_activity or pg_prepared_xacts positively
-- shows it in another database; anything unknown holds the horizon back (safe side).
-- STABLE, so that it sees the calling statement's snapshot: the same one its caller reads events with.
CREATE FUNCTION event_horizon() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT least(
               pg_snapshot_xmax(s),
               (SELECT min(x) FROM pg_snapshot_xip(s) AS x
                 WHERE xid(x) NOT IN (SELECT a.backend_xid FROM pg_stat_activity a
                                       WHERE a.backend_xid IS NOT NULL AND a.datid IS NOT NULL
                                         AND a.datid <> (SELECT oid FROM pg_database
                                                          WHERE datname = current_database()))
                   AND xid(x) NOT IN (SELECT p.transaction FROM pg_prepared_xacts p
                                       WHERE p.database <> current_database()))
           )::text::bigint + (SELECT order_offset FROM event_order)
      FROM pg_current_snapshot() AS s
$$;

-- After a restore (or on any start): when stored keys reach the horizon, shift the offset so that every
-- key a transaction can still take lies above every stored key. Returns the shift (0: nothing to do).
-- The SHARE lock waits for appending transactions to finish and keeps new ones out until this commits.
CREATE FUNCTION rebase_event_order() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    newest  bigint;
    horizon bigint;
    shift   bigint := 0;
BEGIN
    LOCK TABLE events IN SHARE MODE;
    SELECT tx INTO newest FROM events ORDER BY tx DESC LIMIT 1;
    horizon := event_horizon();
    IF newest IS NOT NULL AND newest >= horizon THEN
        shift := newest - horizon + 1;
        UPDATE event_order SET order_offset = order_offset + shift;
    END IF;
    RETURN shift;
END;
$$;

ALTER TABLE events ALTER COLUMN tx DROP DEFAULT;
ALTER TABLE events ALTER COLUMN tx TYPE bigint USING tx::text::bigint;
ALTER TABLE events ALTER COLUMN tx SET DEFAULT event_order_key();

ALTER TABLE projection_checkpoints ALTER COLUMN tx DROP DEFAULT;
ALTER TABLE projection_checkpoints ALTER COLUMN tx TYPE bigint USING tx::text::bigint;
ALTER TABLE projection_checkpoints ALTER COLUMN tx SET DEFAULT 0;
