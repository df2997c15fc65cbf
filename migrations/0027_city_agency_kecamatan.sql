-- Projection "city": which agencies are kecamatan (issue 14), so that pages deciding with the read model's
-- agencies know them. Rebuilt from the log.
ALTER TABLE city_agencies ADD COLUMN kecamatan text NOT NULL DEFAULT '';
TRUNCATE city_agencies, city;
DELETE FROM projection_checkpoints WHERE name = 'city';
