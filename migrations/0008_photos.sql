-- Photo bytes, re-encoded and stripped of metadata (EXIF GPS included) before they get here. The log
-- records each attachment with the photo's id and SHA-256, so a swapped file is detectable.

CREATE TABLE photos (
    id            uuid PRIMARY KEY,
    proposal_code text    NOT NULL,
    content_type  text    NOT NULL,
    data          bytea   NOT NULL,
    sha256        text    NOT NULL,
    width         integer NOT NULL,
    height        integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX photos_proposal ON photos (proposal_code);
