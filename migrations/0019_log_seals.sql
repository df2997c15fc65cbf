-- Seals of the whole log (eventlog/seal.py) are events on the stream `log-seals`; a printed seal hash is
-- looked up by `/periksa/{hash}` and `verify --head` without reading the log.
CREATE INDEX events_seal_hash ON events ((data->>'hash')) WHERE event_type = 'log.sealed';
