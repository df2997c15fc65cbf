-- City level read models (projection "rkpd"): what the Forum Perangkat Daerah received and where each
-- proposal stands with the agencies, the working RKPD lines, and each adopted list as it was frozen.

CREATE TABLE rkpd_items (
    year      integer NOT NULL,
    code      text    NOT NULL,
    title     text    NOT NULL,
    kelurahan text    NOT NULL,
    kecamatan text    NOT NULL,
    bidang    text    NOT NULL,
    cost      bigint  NOT NULL,
    volume    text,
    unit      text,
    forum_id  text    NOT NULL,
    agency    text    NOT NULL,
    status    text    NOT NULL,  -- menunggu | dipetakan | tidak_diakomodasi
    line_id   text,
    reason    text,
    PRIMARY KEY (year, code)
);
CREATE INDEX rkpd_items_agency ON rkpd_items (year, agency, code);

-- A line in the projection carries its content as the canonical JSON of the event's RkpdLine, so the
-- public list, the exports and `verify` all read one shape.
CREATE TABLE rkpd_lines (
    year       integer NOT NULL,
    line_id    text    NOT NULL,
    agency     text    NOT NULL,
    pagu       bigint  NOT NULL,
    line       jsonb   NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (year, line_id)
);

-- Per year: the latest adopted revision (0: none yet) and whether lines changed since.
CREATE TABLE rkpd_state (
    year     integer PRIMARY KEY,
    revision integer NOT NULL DEFAULT 0,
    changed  boolean NOT NULL DEFAULT false
);

CREATE TABLE rkpd_adoptions (
    year           integer NOT NULL,
    revision       integer NOT NULL,
    total_pagu     bigint  NOT NULL,
    note           text    NOT NULL,
    adopted_at     timestamptz NOT NULL,
    stream_id      text    NOT NULL,
    stream_version integer NOT NULL,
    position       bigint  NOT NULL,
    hash           bytea   NOT NULL,
    PRIMARY KEY (year, revision)
);

CREATE TABLE rkpd_adopted_lines (
    year     integer NOT NULL,
    revision integer NOT NULL,
    line_id  text    NOT NULL,
    agency   text    NOT NULL,
    pagu     bigint  NOT NULL,
    line     jsonb   NOT NULL,
    PRIMARY KEY (year, revision, line_id)
);

-- Lineage (projection "lineage"): every event that concerns a proposal or an RKPD line, one row per
-- (subject, event), so that a line's whole path is one indexed read. Subjects: a proposal code, or
-- 'rkpd/{year}/{line_id}'. The projection keeps its own maps from forum items and lines to proposals.
CREATE TABLE lineage_steps (
    subject        text    NOT NULL,
    position       bigint  NOT NULL,
    stream_id      text    NOT NULL,
    stream_version integer NOT NULL,
    event_type     text    NOT NULL,
    recorded_at    timestamptz NOT NULL,
    role           text,
    hash           bytea   NOT NULL,
    detail         jsonb   NOT NULL,
    PRIMARY KEY (subject, position)
);

CREATE TABLE lineage_forum_items (
    forum_id text NOT NULL,
    item_id  text NOT NULL,
    code     text NOT NULL,
    PRIMARY KEY (forum_id, item_id)
);

CREATE TABLE lineage_forums (
    forum_id text    PRIMARY KEY,
    level    text    NOT NULL,
    region   text    NOT NULL,
    title    text    NOT NULL,
    rule     text    NOT NULL,
    ceiling  bigint  NOT NULL
);

-- Merges: `code` was merged into `merged_into`, and lives on in `root` (the end of the chain of merges,
-- kept up to date by the projector), so that a proposal's family (the root and everything whose root it
-- is) is one indexed read, whatever the depth of the merges.
CREATE TABLE lineage_merges (
    code        text PRIMARY KEY,
    merged_into text NOT NULL,
    root        text NOT NULL
);
CREATE INDEX lineage_merges_root ON lineage_merges (root);

CREATE TABLE lineage_lines (
    year      integer NOT NULL,
    line_id   text    NOT NULL,
    origins   text[]  NOT NULL,
    withdrawn boolean NOT NULL DEFAULT false,
    PRIMARY KEY (year, line_id)
);
CREATE INDEX lineage_lines_origins ON lineage_lines USING gin (origins);

-- Proposals: whether verification ever accepted it (the equity view counts it), and the RKPD line it
-- ended in. The timeline is now ordered by global position, because city-level events about a
-- proposal live on the RKPD stream, not on the proposal's own. Rebuild the projection from the log.
ALTER TABLE proposals ADD COLUMN accepted boolean NOT NULL DEFAULT false;
ALTER TABLE proposals ADD COLUMN rkpd_line text;
ALTER TABLE proposal_timeline ALTER COLUMN seq TYPE bigint;
TRUNCATE proposal_timeline, proposals;
DELETE FROM projection_checkpoints WHERE name = 'proposals';
