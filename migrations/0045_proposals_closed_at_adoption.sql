-- Projection "proposals": at its year's RKPD adoption, a proposal short of any outcome is closed
-- `tidak_diproses` with why in `status_reason` (domain/proposal.CLOSED_AT_ADOPTION): still waiting for
-- verification (`belum_diverifikasi`, as 0044 closed them, now with the reason), returned and never
-- corrected (`belum_diperbaiki`), accepted and never decided at a forum (`belum_dimusyawarahkan`); its
-- timeline entry at that adoption carries the reason too. Here the same for the rows the projection has
-- already applied: each year's first adoption up to its checkpoint, in the log's order.
WITH reached AS (
    SELECT coalesce((SELECT tx FROM projection_checkpoints WHERE name = 'proposals'), 0) AS tx,
           coalesce((SELECT position FROM projection_checkpoints WHERE name = 'proposals'), 0) AS position
), adopted AS (
    SELECT DISTINCT ON ((e.data->>'year')::int) (e.data->>'year')::int AS year, e.global_position AS position,
           e.recorded_at, (e.data->>'revision')::int AS revision
    FROM events e, reached r
    WHERE e.event_type = 'rkpd.adopted' AND (e.tx, e.global_position) <= (r.tx, r.position)
    ORDER BY (e.data->>'year')::int, e.tx, e.global_position
), reasons (was, reason) AS (
    VALUES ('dikembalikan', 'belum_diperbaiki'), ('diterima', 'belum_dimusyawarahkan'),
           ('diterima_dengan_perubahan', 'belum_dimusyawarahkan')
), closed AS (
    UPDATE proposals p SET status = 'tidak_diproses', status_reason = c.reason, updated_at = a.recorded_at
    FROM adopted a, reasons c WHERE p.year = a.year AND p.status = c.was
    RETURNING p.code, p.year, a.position, a.recorded_at, a.revision, c.reason
), steps AS (
    INSERT INTO proposal_timeline (code, seq, at, kind, details)
    SELECT code, position, recorded_at, 'rkpd.adopted',
           jsonb_build_object('unprocessed', true, 'year', year, 'revision', revision, 'reason', reason)
    FROM closed
    ON CONFLICT DO NOTHING
), unverified AS (
    UPDATE proposals SET status_reason = 'belum_diverifikasi'
    WHERE status = 'tidak_diproses' AND status_reason IS NULL
), noted AS (
    UPDATE proposal_timeline SET details = details || '{"reason": "belum_diverifikasi"}'
    WHERE kind = 'rkpd.adopted' AND details ? 'unprocessed' AND NOT details ? 'reason'
)
INSERT INTO proposal_year_versions AS v (year, position)
SELECT year, max(position) FROM closed GROUP BY year
ON CONFLICT (year) DO UPDATE SET position = greatest(v.position, EXCLUDED.position);
