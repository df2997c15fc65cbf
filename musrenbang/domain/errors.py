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


class UnreadableFile(DomainError):
    """An uploaded file cannot be read as what it must be (its encoding, its quoting): nothing of it was
    read, so no row can be named; the request is at fault, not the state (422, not 409)."""

    code = "unreadable_file"


def N_(message: str) -> str:
    """Marks a message for translation without translating it here (the domain knows no language but
    its source one; the HTTP layer translates with the reader's catalog)."""
    return message


class Message(str):
    """A message with parameters: reads as the Indonesian text, and keeps its template and parameters
    so that the HTTP layer can translate the template and fill it in again."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, **params: object) -> Message:
        self = super().__new__(cls, template % params if params else template)
        self.template, self.params = template, params
        return self


class Term(str):
    """A word of the domain's own vocabulary (a stage, a forum, a milestone: marked with `N_` where it is
    defined) put into a message as a parameter. It reads as the Indonesian word; the HTTP layer names it in
    the reader's language, as it does the message around it. `lower()` keeps it a term, lowered after
    translation too.

        >>> Term("Kontrak ditandatangani").lower()
        'kontrak ditandatangani'
    """

    msgid: str
    lowered: bool

    def __new__(cls, msgid: str, *, lowered: bool = False) -> Term:
        self = super().__new__(cls, msgid.lower() if lowered else msgid)
        self.msgid, self.lowered = str(msgid), lowered
        return self

    def lower(self) -> Term:  # still a str: a term, lowered
        return Term(self.msgid, lowered=True)


class ValidationFailed(DomainError):
    """Several fields were wrong at once; `errors` maps each field to its message."""

    code = "invalid"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(N_("ada isian yang perlu diperbaiki"))
        self.errors = errors
