-- The city's time zone (WIB, WITA or WIT), in which its planning calendar counts days; settings recorded
-- before it have none and count in WIB.
ALTER TABLE city ADD COLUMN timezone text NOT NULL DEFAULT 'WIB';
