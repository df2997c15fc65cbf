-- Finding an event by its hash: `/periksa/{hash}` and the auditors' page check a Berita Acara's or an
-- adopted RKPD's printed log head against the log, and must not read the whole log to do it.
CREATE INDEX events_hash ON events USING hash (hash);
