-- Read model of forums (projection "forums"): what GET /api/v1/forums/{id} and the forum pages show,
-- and which proposals were forwarded to which level (the next forum's agenda is taken from here when
-- it opens, then frozen into its own events).

CREATE TABLE forums (
    forum_id    text PRIMARY KEY,
    level       text    NOT NULL,
    region      text    NOT NULL,
    year        integer NOT NULL,
    title       text    NOT NULL,
    held_on     date,
    place       text    NOT NULL,
    chair       text    NOT NULL,
    ceiling     bigint  NOT NULL,
    quota       integer,
    rule        text    NOT NULL,
    ballot_kind text,
    rule_params jsonb   NOT NULL,
    criteria    jsonb   NOT NULL,
    origin      text    NOT NULL,
    status      text    NOT NULL,
    spent       bigint,
    scheduled_at timestamptz NOT NULL,
    closed_at   timestamptz
);

CREATE TABLE forum_delegates (
    forum_id    text NOT NULL,
    delegate_id text NOT NULL,
    name        text NOT NULL,
    role        text NOT NULL,
    represents  text NOT NULL,
    gender      text NOT NULL,
    PRIMARY KEY (forum_id, delegate_id)
);

CREATE TABLE forum_agenda (
    forum_id      text    NOT NULL,
    position      integer NOT NULL,
    item_id       text    NOT NULL,
    proposal      text,
    title         text    NOT NULL,
    cost          bigint  NOT NULL,
    volume        text,
    unit          text,
    kelurahan     text,
    agreed_cost   bigint,
    agreed_volume text,
    adjust_reason text,
    PRIMARY KEY (forum_id, item_id)
);

-- Who has voted (the latest ballot of each delegate counts; one row per delegate).
CREATE TABLE forum_ballots (
    forum_id    text NOT NULL,
    delegate_id text NOT NULL,
    cast_at     timestamptz NOT NULL,
    PRIMARY KEY (forum_id, delegate_id)
);

CREATE TABLE forum_results (
    forum_id text    NOT NULL,
    rank     integer NOT NULL,
    item_id  text    NOT NULL,
    score    text    NOT NULL,
    cost     bigint  NOT NULL,
    selected boolean NOT NULL,
    reason   text,
    PRIMARY KEY (forum_id, item_id)
);

CREATE TABLE forum_forwarded (
    from_forum text    NOT NULL,
    to_level   text    NOT NULL,
    to_region  text    NOT NULL,
    year       integer NOT NULL,
    proposal   text    NOT NULL,
    title      text    NOT NULL,
    cost       bigint  NOT NULL,
    volume     text,
    unit       text,
    kelurahan  text,
    PRIMARY KEY (to_level, to_region, year, proposal)
);
