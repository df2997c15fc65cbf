-- When a forum begins on its day (issue 16, part 5: the public calendar says when to come). Optional:
-- forums scheduled before this, and imported elections, have none; a replay gives the same NULLs.
ALTER TABLE forums ADD COLUMN starts_at time;
ALTER TABLE rkpd_forums ADD COLUMN starts_at time;
