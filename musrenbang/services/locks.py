"""Advisory lock spaces shared by more than one service: (space, key) pairs held to the end of a
transaction (`pg_advisory_xact_lock`), so that two decisions that read what the other writes take turns."""

RKPD_LOCK = 0x726B
"""A year's city level: (RKPD_LOCK, year). Held by every city-level command (services/rkpd.py), by the DPRD
secretariat's check of a pokir (services/pokir.py), and, shared, by a kecamatan forum's close
(services/forums.py), which forwards to the city level: none lands between a Forum Perangkat Daerah's
check that everything forwarded was taken up and its close."""
