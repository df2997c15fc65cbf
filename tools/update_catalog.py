"""Refresh the English catalog after texts changed: extract every message, keep the existing English
translations, and list what still needs one.

    python tools/update_catalog.py

Then translate the listed messages in musrenbang/locale/en/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "musrenbang" / "locale" / "en" / "LC_MESSAGES" / "messages.po"


def extract() -> Catalog:
    """Every translatable message in the package and the templates (`N_` marks domain messages)."""
    catalog = Catalog()
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    for directory, method, pattern in (
        ("musrenbang", "python", "**.py"),
        ("web/templates", "jinja2", "**.html"),
    ):
        options = {pattern: {"extensions": "jinja2.ext.i18n"}} if method == "jinja2" else {}
        for _, _, message, comments, context in extract_from_dir(
            ROOT / directory, [(pattern, method)], options, keywords=keywords
        ):
            catalog.add(message, None, context=context, auto_comments=comments)
    return catalog


def missing_translations(english: Catalog, template: Catalog) -> list[object]:
    """Messages of `template` that have no English translation in `english`."""
    missing = []
    for message in template:
        if not message.id:
            continue
        translated = english.get(message.id)
        strings = translated.string if translated else None
        if not strings or (isinstance(strings, tuple) and not all(strings)):
            missing.append(message.id)
    return missing


def main() -> None:
    template = extract()
    with PO.open("rb") as f:
        english = read_po(f, locale="en")
    english.update(template, no_fuzzy_matching=True)
    english.obsolete.clear()
    with PO.open("wb") as f:
        write_po(f, english, width=110, no_location=True, omit_header=False, sort_output=False)
    missing = missing_translations(english, template)
    for message in missing:
        print(f"needs English: {message!r}")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
