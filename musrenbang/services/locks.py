"""Advisory lock spaces shared by more than one service: (space, key) pairs held to the end of a
transaction (`pg_advisory_xact_lock`), so that two decisions that read what the other writes take turns."""

RKPD_LOCK = 0x726B
"""A year's city level: (RKPD_LOCK, year). Held by every city-level command (services/rkpd.py) and by the
DPRD secretariat's check of a pokir (services/pokir.py); shared by a pokir's submission and correction from
their check that the Forum Perangkat Daerah is still to close to their commit."""

INTAKE_LOCK = 0x696E
"""What a year's city level takes in from the kecamatan forums: (INTAKE_LOCK, year). Held shared by a
kecamatan forum's close (services/forums.py), which forwards to the city level, and exclusive by what ends
the intake — the Forum Perangkat Daerah's close, or an adoption with none — around its check that all that
was forwarded is taken up (services/rkpd.py): neither lands between the other's check and commit. Held
shared too by a resident's submission from its check that the Forum Perangkat Daerah is still to close to its
commit (services/proposals.py; domain/cycle.py says why a proposal after it could never be decided). Taken
before RKPD_LOCK, and apart from it, because the check waits for the forums read model with a connection
held: only kecamatan closes of the year wait meanwhile, not every agency saving a line."""

CYCLE_LOCK = 0x6379
"""A year's cycle: (CYCLE_LOCK, year). Held shared by what makes something in a year (a proposal or pokir
submitted, a forum scheduled) from its check that the year's cycle is there to its commit, and exclusive
by a cycle's withdrawal around its check that nothing was made in the year (services/cycles.py): nothing
lands in a year whose cycle is being withdrawn. Taken before RKPD_LOCK when both are."""
