"""The seal line pages print (web/templates/_seal.html), rendered by the application's own templates."""

from __future__ import annotations

import datetime as dt
import types

import pytest

from musrenbang.http.render import environment


@pytest.mark.parametrize("covers", [True, False, None])
def test_the_seal_lines_sentences_are_apart(covers: bool | None) -> None:
    """The sentence after the "covers" one ran into it ("…halaman ini.Catat hash segel ini"): the line
    break after the block was trimmed away."""
    env = environment()
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]  # the i18n extension's
    template = env.from_string('{% from "_seal.html" import seal_line with context %}{{ seal_line(shown) }}')
    sealed = types.SimpleNamespace(seal=3, hash="ab" * 32, events=1200, position=99, sealed_at=dt.datetime(2026, 1, 1))
    text = " ".join(template.render(shown=types.SimpleNamespace(seal=sealed, covers=covers), when=str).split())
    assert "Catat hash segel ini" in text
    assert text.count(". Catat hash") + text.count(") Catat hash") == 1 and ".Catat" not in text
