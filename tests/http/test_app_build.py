"""The application as Litestar 3 will still build it: no parameter left to Litestar's guesswork."""

from __future__ import annotations

import warnings

from musrenbang.config import Settings
from musrenbang.http.app import create_app


def test_every_dependency_path_parameter_and_body_is_declared_as_such() -> None:
    """Litestar 2.25 warns (LitestarDeprecationWarning) for each dependency, path parameter or request body
    it had to infer from a name: inferring stops in Litestar 3 (http/deps.py says how they are declared)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused"}), "postgresql://unused@127.0.0.1:1/unused",
                   "00" * 32, run_projections=False)  # fmt: skip
    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
