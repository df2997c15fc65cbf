-- Reference data, not decisions: Kemendagri region codes (Kepmendagri 300.2.2-2138/2025), loaded from the
-- CSV shipped in the package. Codes are the official dotted form, e.g. 32.75.01.1001.

CREATE TABLE regions (
    kode       text PRIMARY KEY CHECK (kode ~ '^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$'),
    nama       text NOT NULL,
    tingkat    text NOT NULL CHECK (tingkat IN ('provinsi', 'kota', 'kabupaten', 'kecamatan', 'kelurahan', 'desa')),
    kode_induk text REFERENCES regions (kode)
);

CREATE INDEX regions_kode_induk ON regions (kode_induk);
