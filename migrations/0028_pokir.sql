-- Pokok-pikiran DPRD (issue 14): DPRD members (`dprd`, with their daerah pemilihan, faction and name as
-- the public pages show it) and the DPRD secretariat (`setwan`) as staff accounts; the projection
-- "proposals" keeps each pokir's member and reses beside the proposal it is.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'facilitator', 'opd', 'auditor', 'dprd', 'setwan'));
ALTER TABLE users ADD COLUMN name text, ADD COLUMN dapil text, ADD COLUMN faction text;
ALTER TABLE users ADD CONSTRAINT users_dprd_dapil CHECK ((role = 'dprd') = (dapil IS NOT NULL));

CREATE TABLE pokir (
    code          text PRIMARY KEY,
    year          integer NOT NULL,
    member        text NOT NULL,
    member_name   text NOT NULL,
    faction       text NOT NULL,
    dapil         text NOT NULL,
    reses_on      date NOT NULL,
    reses_place   text NOT NULL,
    forwarded_at  timestamptz,
    note          text NOT NULL DEFAULT ''
);
CREATE INDEX pokir_year_dapil ON pokir (year, dapil);
CREATE INDEX pokir_member ON pokir (member, year);

-- Projection "city": the DPRD's daerah pemilihan (name and kecamatan, as the settings list them), for the
-- pokir pages and the per-dapil sources view. Rebuilt from the log.
ALTER TABLE city ADD COLUMN dapil jsonb NOT NULL DEFAULT '[]';
TRUNCATE city_agencies, city;
DELETE FROM projection_checkpoints WHERE name = 'city';

-- The pokir of a year, read from the log itself (not a read model) when the city level closes a forum or
-- adopts: none may be left unanswered (services/rkpd.py).
CREATE INDEX events_pokir_year ON events (((data->>'year')::int))
    WHERE event_type = 'proposal.submitted' AND data->>'source' = 'pokir';
