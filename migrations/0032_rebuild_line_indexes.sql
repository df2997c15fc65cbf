-- The proposals in an RKPD line, found by the line. Every `rkpd.line_set` and `rkpd.line_withdrawn`
-- moves the proposals that leave the line back (the proposals and rkpd projections), and without these
-- each scanned the whole table: 14 ms per line change on 5,348 proposals, and a city-size rebuild has
-- ~12,000 line changes over ~100,000 proposals (issue 15, part 2). Partial: most never reach a line.
CREATE INDEX proposals_rkpd_line ON proposals (year, rkpd_line) WHERE rkpd_line IS NOT NULL;
CREATE INDEX rkpd_items_line ON rkpd_items (year, line_id) WHERE line_id IS NOT NULL;
