-- Issue 15 (part 4): what the city-scale pages are cached by, kept in the read models themselves.
--
-- Projection "rkpd": the global position of the last event it applied for each RKPD year, written in the
-- same transaction as the rows that event changed, so a page rendered from those rows can be cached by it
-- and a new event of the year simply misses the cache. Filled here with the projection's checkpoint (any
-- later event of the year has another position, so no earlier state can be mistaken for a later one).
CREATE TABLE rkpd_year_versions (
    year     integer PRIMARY KEY,
    position bigint  NOT NULL
);
INSERT INTO rkpd_year_versions (year, position)
SELECT y.year, coalesce((SELECT position FROM projection_checkpoints WHERE name = 'rkpd'), 0)
FROM (SELECT year FROM rkpd_state UNION SELECT year FROM rkpd_forums) AS y;

-- Projection "proposals": how many proposals each year has, so the home page does not count them all on
-- every request.
CREATE TABLE proposal_year_counts (
    year      integer PRIMARY KEY,
    proposals integer NOT NULL
);
INSERT INTO proposal_year_counts (year, proposals) SELECT year, count(*) FROM proposals GROUP BY year;
