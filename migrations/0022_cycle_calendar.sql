-- Cycles with a calendar (issue 12): the window of each stage, the pagu indikatif of each kecamatan, the
-- sasaran daerah of each priority program, and whether the year's RKPD is adopted. `stage` keeps what
-- `cycle.stage_advanced` last recorded; the stage a cycle is at on a given day is computed from the
-- windows (domain/cycle.py), since it changes with the day and not with an event.

ALTER TABLE cycles ADD COLUMN adopted boolean NOT NULL DEFAULT false;
UPDATE cycles SET adopted = true WHERE stage = 'ditetapkan';  -- as the projection now derives it
ALTER TABLE cycle_priority_programs ADD COLUMN target text NOT NULL DEFAULT '';

CREATE TABLE cycle_calendar (
    year   integer NOT NULL,
    stage  text    NOT NULL,
    opens  date    NOT NULL,
    closes date    NOT NULL,
    PRIMARY KEY (year, stage)
);

CREATE TABLE cycle_window_changes (
    year       integer NOT NULL,
    seq        bigint  NOT NULL,
    stage      text    NOT NULL,
    opens      date    NOT NULL,
    closes     date    NOT NULL,
    reason     text    NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (year, seq)
);

CREATE TABLE cycle_pagu_kecamatan (
    year      integer NOT NULL,
    kecamatan text    NOT NULL,
    pagu      bigint  NOT NULL,
    PRIMARY KEY (year, kecamatan)
);
