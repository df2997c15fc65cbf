-- Search keys (issue 16, part 4): a name or title as it is compared, the same rule as
-- musrenbang/domain/search.py (ASCII letters and digits, lowercase; oe → u, dj → j, tj → c, ch → kh,
-- then j → y). Generated columns keep them in step with the read models without any projector knowing.
-- Ranges are spelled out letter by letter so that no collation can widen them.

CREATE FUNCTION search_key(text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT replace(replace(replace(replace(replace(
    regexp_replace(translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
                   '[^abcdefghijklmnopqrstuvwxyz0123456789]', '', 'g'),
    'oe', 'u'), 'dj', 'j'), 'tj', 'c'), 'ch', 'kh'), 'j', 'y')
$$;

ALTER TABLE regions ADD COLUMN search_key text GENERATED ALWAYS AS (search_key(nama)) STORED;

-- A year's proposals searched by title, kelurahan or code (/usulan): the bundled server has no pg_trgm, so
-- the keys are stored and read from an index in the page's order (year, kelurahan, code), which a page
-- with LIMIT walks only as far as it needs.
ALTER TABLE proposals ADD COLUMN search_key text
    GENERATED ALWAYS AS (search_key(title) || ' ' || search_key(code)) STORED;
CREATE INDEX proposals_year_search ON proposals (year, kelurahan, code) INCLUDE (search_key);
