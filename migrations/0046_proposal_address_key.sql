-- Projection "proposals": the address's search key (domain/search.py's rule, equal to the SQL function
-- `search_key`), written with the row like `search_key`, for the verification queue's search by address
-- (`?q=`). Computed per row at each search it cost 2 s of a city-wide queue of 150,000 waiting proposals
-- (a regular expression per row); a stored key is compared with LIKE. Not in `search_key`: the public
-- search (/usulan/cari) matches titles and codes only.
ALTER TABLE proposals ADD COLUMN address_key text NOT NULL DEFAULT '';
UPDATE proposals SET address_key = search_key(address) WHERE address <> '';
ALTER TABLE proposals ALTER COLUMN address_key SET STATISTICS 0;
