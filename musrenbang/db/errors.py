"""Errors about the database that a person can act on (printed by the CLI without a traceback)."""


class DatabaseError(Exception):
    """The database cannot be used; the message says why and what to check."""
