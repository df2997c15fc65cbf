-- The day the Musrenbang Kota adopted the list (RkpdAdopted.adopted_on), beside when the event was
-- recorded (`adopted_at`). Pages said "ditetapkan" with the recording time: an adoption recorded late (the
-- demo, an import, a forum entered afterwards) read as adopted after its own enactment. Filled from the
-- log for the adoptions already projected (NULL for those recorded before the day was kept).
ALTER TABLE rkpd_adoptions ADD COLUMN adopted_on date;
UPDATE rkpd_adoptions a SET adopted_on = (e.data->>'adopted_on')::date
FROM events e WHERE e.global_position = a.position AND e.data ? 'adopted_on';
