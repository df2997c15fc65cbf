-- Projection "proposals": a proposal still waiting for verification (or a pokir for the DPRD secretariat's
-- check) when its year's RKPD is adopted is closed without a decision, `tidak_diproses`, with an entry in
-- its timeline at that adoption (`rkpd.adopted`, details {"unprocessed": true}). The projection now
-- derives it from the log's `rkpd.adopted`; here the same for the rows it has already applied: each
-- year's first adoption up to its checkpoint, in the log's order.
WITH reached AS (
    SELECT coalesce((SELECT tx FROM projection_checkpoints WHERE name = 'proposals'), 0) AS tx,
           coalesce((SELECT position FROM projection_checkpoints WHERE name = 'proposals'), 0) AS position
), adopted AS (
    SELECT DISTINCT ON ((e.data->>'year')::int) (e.data->>'year')::int AS year, e.global_position AS position,
           e.recorded_at, (e.data->>'revision')::int AS revision
    FROM events e, reached r
    WHERE e.event_type = 'rkpd.adopted' AND (e.tx, e.global_position) <= (r.tx, r.position)
    ORDER BY (e.data->>'year')::int, e.tx, e.global_position
), closed AS (
    UPDATE proposals p SET status = 'tidak_diproses', status_reason = NULL, updated_at = a.recorded_at
    FROM adopted a WHERE p.year = a.year AND p.status = 'diajukan'
    RETURNING p.code, p.year, a.position, a.recorded_at, a.revision
), steps AS (
    INSERT INTO proposal_timeline (code, seq, at, kind, details)
    SELECT code, position, recorded_at, 'rkpd.adopted',
           jsonb_build_object('unprocessed', true, 'year', year, 'revision', revision)
    FROM closed
)
INSERT INTO proposal_year_versions AS v (year, position)
SELECT year, max(position) FROM closed GROUP BY year
ON CONFLICT (year) DO UPDATE SET position = greatest(v.position, EXCLUDED.position);
