-- Read model of planning cycles (projection "cycles"): one row per RKPD year and its priority programs.

CREATE TABLE cycles (
    year        integer PRIMARY KEY,
    region      text    NOT NULL,
    theme       text    NOT NULL,
    stage       text    NOT NULL,
    kickoff_on  date,
    started_at  timestamptz NOT NULL,
    stream_id   text    NOT NULL
);

CREATE TABLE cycle_priority_programs (
    year    integer NOT NULL REFERENCES cycles (year),
    number  integer NOT NULL,
    title   text    NOT NULL,
    PRIMARY KEY (year, number)
);
