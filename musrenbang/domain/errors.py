"""Errors the domain raises when a command cannot be carried out. Messages are for people."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused by a rule of the domain; nothing was written."""

    code = "rejected"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"
