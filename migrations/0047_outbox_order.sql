-- Messages to one address leave one at a time, in the order they were queued (delivery/worker.py, `_CLAIM`).
-- The rows one transaction writes share created_at and next_attempt_at and have random ids, so the order
-- needs a number of its own: `queued`, taken from a sequence as each row is inserted (eventlog/outbox.py
-- inserts an append's messages in the log's order), and again when a failed message is queued anew (it
-- then waits behind what its address already has in the queue). Only a pending message needs one: rows
-- settled before this migration keep none, so the table is not rewritten.
CREATE SEQUENCE outbox_queued AS bigint;
ALTER TABLE outbox ADD COLUMN queued bigint;
ALTER SEQUENCE outbox_queued OWNED BY outbox.queued;
-- What is pending now: by when it was written, then by the log's order of the events that caused it.
UPDATE outbox o SET queued = n.queued
FROM (SELECT p.id, row_number() OVER (ORDER BY p.created_at, e.global_position, p.ctid) AS queued
      FROM outbox p LEFT JOIN events e ON e.event_id = p.event_id
      WHERE p.status = 'pending') n
WHERE o.id = n.id;
SELECT setval('outbox_queued', max(queued)) FROM outbox HAVING max(queued) IS NOT NULL;
ALTER TABLE outbox ALTER COLUMN queued SET DEFAULT nextval('outbox_queued');
ALTER TABLE outbox ADD CONSTRAINT outbox_pending_queued CHECK (status <> 'pending' OR queued IS NOT NULL);
-- The claim asks of each due message whether an earlier one to its address is still pending (and a retry
-- holds the later ones back): one probe of this index, which holds only what is pending.
CREATE INDEX outbox_recipient ON outbox (channel, address, queued) WHERE status = 'pending';
