-- What the pages cached by read-model checkpoints key on (http/page_cache.by_checkpoints): `changed`, the
-- position of the last event of a kind the projection handles that it applied (its tables changed there
-- and not since), and `generation`, how many times a rebuild switched new tables in. The position alone
-- moved with every event of the log and the row's version with every save: each seal (one a minute, and
-- one per 10,000 events of a backlog after a restore or a demo) re-rendered every cached page, and in the
-- January peak every submission re-rendered the forum calendar, whose models never see a proposal.
ALTER TABLE projection_checkpoints ADD COLUMN changed bigint NOT NULL DEFAULT 0;
ALTER TABLE projection_checkpoints ADD COLUMN generation integer NOT NULL DEFAULT 0;
UPDATE projection_checkpoints SET changed = position;
