-- Followers of a proposal merged before they asked: until session 19, asking to follow a proposal that
-- had already been merged made a subscription on the merged code, which no event ever names again (the
-- merge's follow-on had run before it existed), so its follower was told nothing more. New requests follow
-- the proposal it lives on in; this carries the confirmed ones made before on to it, as a merge carries
-- its followers (eventlog/outbox.py `_FOLLOW_ON`: same address and link, the old one as owner, so that its
-- stop link stops both). A chain of merges is followed to its end (at most 50 links, as http/follow.py).
-- Read from the log, the only record of merges a migration can trust (a read model may be behind).
-- Idempotent: a follower already carried on (by a merge or by confirming) is left as it is.
WITH RECURSIVE merged AS (
    SELECT data->>'code' AS code, data->>'into' AS into_code
    FROM events WHERE event_type = 'proposal.merged'
), chain (code, survivor, depth) AS (
    SELECT code, into_code, 1 FROM merged
    UNION ALL
    SELECT c.code, m.into_code, c.depth + 1 FROM chain c JOIN merged m ON m.code = c.survivor WHERE c.depth < 50
), final AS (
    SELECT DISTINCT ON (code) code, survivor FROM chain ORDER BY code, depth DESC
)
INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed)
SELECT gen_random_uuid(), f.survivor, s.channel, s.address, s.link, s.kind, coalesce(s.owner, s.id),
       replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), true
FROM subscriptions s
JOIN final f ON f.code = s.subject
WHERE s.confirmed AND s.stopped_at IS NULL AND f.survivor <> s.subject
ON CONFLICT (subject, channel, address) DO NOTHING;
