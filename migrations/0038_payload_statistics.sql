-- No statistics on columns that only carry what a page shows: no query filters, joins or sorts on them,
-- yet ANALYZE (a rebuild's last step for every copy, and autovacuum's on the live tables as they grow)
-- read, detoasted and compared a sample of each. On a 1,069,534-event log: `lineage_steps` 553 ms ->
-- 360 ms, `proposal_timeline` 234 -> 127 ms, `proposals` 890 -> 368 ms (issue 15, part 2). The planner
-- never asks for these columns' statistics, so no plan changes. Rebuild copies keep these settings.
ALTER TABLE lineage_steps ALTER COLUMN detail SET STATISTICS 0;
ALTER TABLE proposal_timeline ALTER COLUMN details SET STATISTICS 0;
ALTER TABLE proposals ALTER COLUMN problem SET STATISTICS 0;
ALTER TABLE proposals ALTER COLUMN solution SET STATISTICS 0;
ALTER TABLE proposals ALTER COLUMN address SET STATISTICS 0;
