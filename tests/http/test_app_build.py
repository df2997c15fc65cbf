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


def test_every_api_operation_documents_its_refusals_in_the_shape_the_server_sends() -> None:
    """42 operations documented Litestar's default `{status_code, detail, extra}` for a 400, which the server
    never sends (it sends `ErrorOut`: `{error, message, ...}`), and none documented the 404 of a code or year
    that names nothing, or the 401 of a missing token (review s22)."""
    app = create_app(Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused"}), "postgresql://unused@127.0.0.1:1/unused",
                     "00" * 32, run_projections=False)  # fmt: skip
    schema = app.openapi_schema.to_schema()
    operations = [(path, method, op) for path, item in schema["paths"].items() if path.startswith("/api/")
                  for method, op in item.items() if method in ("get", "post", "put", "patch", "delete")]  # fmt: skip
    assert len(operations) >= 40
    for path, method, op in operations:
        responses = op["responses"]
        assert "400" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        for status, response in responses.items():
            if status.startswith("4"):
                shape = response["content"]["application/json"]["schema"]
                assert shape.get("$ref", "").endswith("/ErrorOut"), (method, path, status, shape)
    for path in ("/api/v1/me", "/api/v1/rkpd/{year}/working"):
        assert "401" in schema["paths"][path]["get"]["responses"], path
    assert "401" not in schema["paths"]["/api/v1/rkpd/{year}"]["get"]["responses"]  # public
