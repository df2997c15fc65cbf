"""The append-only event log: storing, reading in the safe global order, and checking the hash chains."""
