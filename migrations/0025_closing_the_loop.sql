-- Closing the loop (issue 13): what happens to an RKPD line after adoption, and residents told.

-- How a proposer wants to be told (personal data, beside the name and phone): 'none' by default.
ALTER TABLE proposer_contacts ADD COLUMN email text;
ALTER TABLE proposer_contacts ADD COLUMN notify text NOT NULL DEFAULT 'none'
    CHECK (notify IN ('sms', 'whatsapp', 'email', 'none'));
CREATE INDEX proposer_contacts_phone ON proposer_contacts (phone);
CREATE INDEX proposer_contacts_email ON proposer_contacts (lower(email)) WHERE email IS NOT NULL;

-- Who is told about what (personal data: the address). `subject` is a proposal code or an RKPD line
-- ('rkpd/{year}/{line_id}', lineage's subject). A proposer's own subscription is made with the proposal
-- (kind 'proposer', owner = the contact's ref) and follows it when it is merged into another (a copy on
-- the survivor, same owner and link). A follower's waits for the e-mail's confirmation. `link` is the path
-- a message points to: the proposer's own tracking page, or the followed page. `token` is the secret of
-- the confirm and stop links.
CREATE TABLE subscriptions (
    id         uuid PRIMARY KEY,
    subject    text NOT NULL,
    channel    text NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'email')),
    address    text NOT NULL,
    link       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('proposer', 'follower')),
    owner      uuid,
    token      text NOT NULL UNIQUE,
    confirmed  boolean NOT NULL,
    stopped_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subject, channel, address)
);
CREATE INDEX subscriptions_live ON subscriptions (subject) WHERE confirmed AND stopped_at IS NULL;
CREATE INDEX subscriptions_owner ON subscriptions (owner) WHERE owner IS NOT NULL;

-- The outbox: messages written in the same transaction as the event that causes them (eventlog/outbox.py),
-- delivered by a worker (musrenbang/delivery/). One message per (subscription, dedupe): `dedupe` is the
-- causing event's id and the subject, or a once-only key ('rkpd_in:…', 'under_way:…') for news that must
-- reach a person once however many events repeat it. Code recoveries and confirmations have no
-- subscription (NULLs are distinct: never deduplicated). `link` is a path; the worker puts the public
-- address in front. Personal data (the address): never in the log, an export or a public page.
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    subscription    uuid REFERENCES subscriptions (id) ON DELETE CASCADE,
    dedupe          text NOT NULL,
    event_id        uuid,
    purpose         text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'email')),
    address         text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    link            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscription, dedupe)
);
-- Per channel: a backlog for a channel nobody configured must not slow the claims of the others.
CREATE INDEX outbox_due ON outbox (channel, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_address ON outbox (address, created_at);
CREATE INDEX outbox_waiting ON outbox (created_at) WHERE status = 'pending';
CREATE INDEX outbox_failed ON outbox (created_at) WHERE status = 'failed';

-- Photos of an RKPD line's progress and handover live beside proposals' photos.
ALTER TABLE photos ALTER COLUMN proposal_code DROP NOT NULL;
ALTER TABLE photos ADD COLUMN rkpd_line text;

-- Projection "rkpd": each milestone of a line after adoption, and where each line stands.
CREATE TABLE rkpd_milestones (
    year        integer NOT NULL,
    line_id     text    NOT NULL,
    position    bigint  NOT NULL,
    stage       text    NOT NULL,
    on_date     date    NOT NULL,
    amount      bigint,
    progress    integer,
    note        text    NOT NULL,
    contractor  text,
    ends        date,
    photos      jsonb   NOT NULL,
    recorded_at timestamptz NOT NULL,
    role        text,
    PRIMARY KEY (year, line_id, position)
);

-- Projection "proposals": a milestone reaches the duplicates merged into the line's origins too.
CREATE INDEX proposals_merged_into ON proposals (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE rkpd_line_progress (
    year        integer NOT NULL,
    line_id     text    NOT NULL,
    stage       text    NOT NULL,
    proposed    bigint,
    budgeted    bigint,
    contract    bigint,
    spent       bigint,
    progress    integer NOT NULL DEFAULT 0,
    finished_on date,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (year, line_id)
);
