-- Projection "proposals": the global position of the last batch that changed each RKPD year's proposals,
-- written in the same transaction as the rows, so that a page read from one year's proposals (the equity
-- view) is cached by it and is not rendered again when proposals of another year arrive (the January
-- submission peak moved every past year's key). Filled here with the projection's checkpoint: any later
-- change of a year has another position, so no earlier state can be mistaken for a later one.
CREATE TABLE proposal_year_versions (
    year     integer PRIMARY KEY,
    position bigint  NOT NULL
);
INSERT INTO proposal_year_versions (year, position)
SELECT DISTINCT year, coalesce((SELECT position FROM projection_checkpoints WHERE name = 'proposals'), 0)
FROM proposals;
