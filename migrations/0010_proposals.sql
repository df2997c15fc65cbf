-- Read model of proposals (projection "proposals"): the public face of each proposal and its timeline.
-- No personal data: the projector never sees any (events carry only a reference).

CREATE TABLE proposals (
    code             text PRIMARY KEY,
    year             integer NOT NULL,
    source           text    NOT NULL,
    kelurahan        text    NOT NULL,
    kecamatan        text    NOT NULL,
    rw               integer NOT NULL,
    rt               integer NOT NULL,
    kind             text    NOT NULL,
    bidang           text    NOT NULL,
    title            text    NOT NULL,
    problem          text    NOT NULL,
    solution         text    NOT NULL,
    beneficiaries    integer NOT NULL,
    volume           numeric NOT NULL,
    unit             text    NOT NULL,
    estimated_cost   bigint  NOT NULL,
    priority_program integer,
    address          text    NOT NULL,
    latitude         numeric,
    longitude        numeric,
    status           text    NOT NULL,
    status_reason    text,
    agreed_volume    numeric,
    agreed_cost      bigint,
    photo_ids        uuid[]  NOT NULL DEFAULT '{}',
    revision         integer NOT NULL DEFAULT 0,
    submitted_at     timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE INDEX proposals_kelurahan ON proposals (kelurahan, submitted_at, code);
CREATE INDEX proposals_kecamatan ON proposals (kecamatan);

-- Every public step of a proposal, in order: what the tracking page shows.
CREATE TABLE proposal_timeline (
    code        text    NOT NULL,
    seq         integer NOT NULL,
    at          timestamptz NOT NULL,
    kind        text    NOT NULL,
    details     jsonb   NOT NULL DEFAULT '{}',
    PRIMARY KEY (code, seq)
);
