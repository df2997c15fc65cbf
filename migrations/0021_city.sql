-- Read model of the city's settings (projection "city", from `city.configured` events): the kabupaten or
-- kota the platform serves, what pages call it and its planning agency, its perangkat daerah.

CREATE TABLE city (
    region                text    PRIMARY KEY,
    name                  text    NOT NULL,
    planning_agency       text    NOT NULL,
    planning_agency_short text    NOT NULL,
    south                 numeric NOT NULL,
    north                 numeric NOT NULL,
    west                  numeric NOT NULL,
    east                  numeric NOT NULL,
    bidang_agency         jsonb   NOT NULL,
    configured_at         timestamptz NOT NULL
);

CREATE TABLE city_agencies (
    code     text    PRIMARY KEY,
    name     text    NOT NULL,
    urusan   text[]  NOT NULL,
    position integer NOT NULL
);
