-- A forum called off (`forum.cancelled`, projection "forums"): status 'cancelled', with the reason and when.
-- No forum was cancelled before this, so every existing row keeps NULLs; a replay gives the same.
ALTER TABLE forums ADD COLUMN cancel_reason text;
ALTER TABLE forums ADD COLUMN cancelled_at timestamptz;
