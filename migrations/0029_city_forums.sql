-- City-level forums (issue 14, part 4), projection "rkpd": the Forum Perangkat Daerah and the Musrenbang Kota
-- of each RKPD year, their latest schedule and, once closed, the Berita Acara the close froze (lines agreed,
-- proposals not agreed) with the closing event's place in the log. No earlier event fills it: nothing to rebuild.
CREATE TABLE rkpd_forums (
    year           integer NOT NULL,
    forum          text    NOT NULL,  -- forum_pd | musrenbang_kota
    held_on        date    NOT NULL,
    place          text    NOT NULL,
    chair          text    NOT NULL,
    participants   jsonb   NOT NULL,
    agenda         jsonb   NOT NULL,
    scheduled_at   timestamptz NOT NULL,
    closed_at      timestamptz,
    minutes        text,
    agreed         jsonb,
    not_agreed     jsonb,
    total_pagu     bigint,
    stream_id      text,
    stream_version integer,
    position       bigint,
    hash           bytea,
    PRIMARY KEY (year, forum)
);
