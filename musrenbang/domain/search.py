"""How a typed name is compared with a stored one: "Pondokgede" finds "Pondok Gede", "Tjikini" finds
"Cikini", "Soekarno" finds "Sukarno".

A search key keeps only ASCII letters and digits, lowercased (spaces, punctuation and anything else
dropped), and folds the old Indonesian spellings (van Ophuijsen, Soewandi) into one form: oe → u,
dj → j, tj → c, ch → kh, and then j and y into one letter (old j is today's y, old dj today's j; a key
cannot tell them apart, so it does not try). Keys are for matching, never for showing.

The same rule is the SQL function `search_key` (migrations/0033_search_keys.sql), which the regions'
generated column uses; the proposals projection writes its rows' keys with this one (computing them in
PostgreSQL made every insert of a rebuild several times dearer). A test holds the two equal, so a search
runs inside the database either way.
"""

from __future__ import annotations

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_KEPT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_LOWER = str.maketrans(_UPPER, _UPPER.lower())
SPELLINGS = (("oe", "u"), ("dj", "j"), ("tj", "c"), ("ch", "kh"), ("j", "y"))
"""Applied in this order: after dj → j, every j (old or new) meets y."""
MAX_TYPED = 60
"""Longest search text read; a name or a title's words fit, a pasted page does not."""


def search_key(text: str) -> str:
    """`text` as it is compared: ASCII letters and digits only, lowercase, old spellings folded."""
    key = "".join(c for c in text.translate(_LOWER) if c in _KEPT)
    for old, new in SPELLINGS:
        key = key.replace(old, new)
    return key


def like_pattern(text: str) -> str | None:
    """A LIKE pattern matching keys that contain `text`'s key; None when nothing searchable was typed.
    Keys hold no `%`, `_` or backslash, so nothing needs escaping."""
    key = search_key(text[:MAX_TYPED])
    return f"%{key}%" if key else None
