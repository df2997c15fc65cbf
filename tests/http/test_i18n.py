"""Every text a person can see has an English translation."""

from __future__ import annotations

import importlib.util
import re

from babel.messages.pofile import read_po

from tests.conftest import REPO


def _catalog_tool():  # tools/ is not a package: load the script the maintainers run
    spec = importlib.util.spec_from_file_location("update_catalog", REPO / "tools" / "update_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_message_has_an_english_translation() -> None:
    tool = _catalog_tool()
    template = tool.extract()
    assert len(template) > 150  # extraction found the templates and the N_() messages
    with tool.PO.open("rb") as f:
        english = read_po(f, locale="en")
    missing = tool.missing_translations(english, template)
    assert not missing, f"run `python tools/update_catalog.py` and translate: {missing}"


def test_formatted_messages_keep_their_placeholders() -> None:
    with _catalog_tool().PO.open("rb") as f:
        english = read_po(f, locale="en")
    for message in english:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        placeholders = {p for i in ids for p in re.findall(r"%\(\w+\)[sd]", i)}
        for s in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", s)) == placeholders, message.id
