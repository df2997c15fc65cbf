-- Room on every page of `proposals` for a new version of its rows. A proposal's row is written once and
-- then updated two or three times (verified, decided at forums, taken into a line), and with full pages
-- every update put the new version on another page and a new entry into each of the table's seven
-- indexes. With half of each page free the update stays on its page (a HOT update: no index entry,
-- since the statuses it changes are not indexed): 30,000 status updates repeated three times cost
-- PostgreSQL 1.6-1.9 s instead of 3.9-4.8 s (issue 15, part 2). Only new pages are filled this way; a
-- `musrenbang replay` writes the whole table anew (rebuild copies keep a table's storage settings).
ALTER TABLE proposals SET (fillfactor = 50);
