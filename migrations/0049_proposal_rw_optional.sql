-- Projection "proposals": RW and RT may be missing (NULL) where the proposal's place is a desa, many of which
-- have neither (Bali's banjar, Aceh's dusun): `proposal.submitted` and `proposal.revised` may carry them as
-- null (domain/proposal.py, `rw_required`). A kelurahan's proposal still has both, as before. No other table
-- keeps them (a rebuild copies this table with CREATE TABLE ... LIKE, which copies the columns as they are
-- now). Every existing row keeps its numbers; a replay gives the same.
ALTER TABLE proposals ALTER COLUMN rw DROP NOT NULL;
ALTER TABLE proposals ALTER COLUMN rt DROP NOT NULL;
