-- Penetapan (issue 14): the Peraturan Wali Kota/Bupati that sets an adopted RKPD, and each amendment's
-- (projection "rkpd").
CREATE TABLE rkpd_enactments (
    year        integer NOT NULL,
    revision    integer NOT NULL,
    regulation  text    NOT NULL,
    enacted_on  date    NOT NULL,
    list_hash   text    NOT NULL,
    amendment   boolean NOT NULL,
    recorded_at timestamptz NOT NULL,
    position    bigint  NOT NULL,
    hash        bytea   NOT NULL,
    PRIMARY KEY (year, revision)
);
