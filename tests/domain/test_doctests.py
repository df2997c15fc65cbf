"""The examples in the domain's docstrings are tests too: every module's run here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import musrenbang.domain

MODULES = sorted(m.name for m in pkgutil.iter_modules(musrenbang.domain.__path__, "musrenbang.domain."))


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_in_the_docstrings_hold(name: str) -> None:
    assert doctest.testmod(importlib.import_module(name)).failed == 0


def test_the_examples_are_found() -> None:
    found = {name: doctest.testmod(importlib.import_module(name)).attempted for name in MODULES}
    assert found["musrenbang.domain.values"] >= 3 and found["musrenbang.domain.bounds"] >= 4
