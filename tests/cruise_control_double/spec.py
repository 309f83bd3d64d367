"""Cruise Control 2.5.143's OpenAPI description, loaded with openapi-core to judge every request and
response of the double.

Where it is: $MIGRATOR_CRUISE_CONTROL_YAML (the `yaml/` folder with base.yaml), else
../shared/upstream/cruise-control-2.5.143/yaml from the repository root (or a folder above it).
Never copied into the repo.

Two known defects of the published description are handled here, and only these:
- It fails strict OpenAPI validation (string and array parameters with `default: null`, the integer
  `entries` of user_tasks with `default: MAX_INT`), so it loads with `Config(spec_validator_cls=None)`,
  and openapi-core then reports such a parameter as invalid whenever a request leaves it out (it
  validates the default). An InvalidParameter error for a parameter ABSENT from the request whose
  spec default does not fit its own schema is dropped; any other error stands.
- List parameters (`brokerid`, `destination_broker_ids`, `substates`, ...) are `type: array` in the
  default form style, i.e. repeated parameters, while Cruise Control itself reads ONE comma-separated
  value (`ParameterUtils.parseParamToIntegerSet` splits `getParameter(name)` on ","; a second
  `brokerid=` is ignored). The wire format Cruise Control accepts is comma-separated, so the request
  is normalised (a comma-separated value of an array parameter split into repeated values) before
  validation; a repeated parameter is refused outright, since Cruise Control would silently drop
  all but its first value.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.validation.request.exceptions import InvalidParameter
from openapi_schema_validator import OAS30Validator
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

YAML_DIR_ENV = "MIGRATOR_CRUISE_CONTROL_YAML"
_RELATIVE = Path("shared/upstream/cruise-control-2.5.143/yaml")


def yaml_dir() -> Path:
    """The override, else ../shared/... of the repository root or of a folder above it (a git
    worktree sits one level deeper than the checkout)."""
    if override := os.environ.get(YAML_DIR_ENV):
        return Path(override).expanduser()
    root = Path(__file__).resolve().parents[2]
    candidates = [parent / _RELATIVE for parent in root.parents]
    return next((c for c in candidates if c.is_dir()), candidates[0])


@cache
def openapi() -> OpenAPI:
    base = yaml_dir() / "base.yaml"
    if not base.is_file():
        raise FileNotFoundError(f"{base} not found; set {YAML_DIR_ENV} to Cruise Control 2.5.143's yaml/ folder")
    return OpenAPI.from_file_path(str(base), config=Config(spec_validator_cls=None))


class SpecViolation(Exception):
    """A request or response the OpenAPI description forbids."""


def _operation(method: str, path: str) -> dict[str, Any] | None:
    endpoint = path.rstrip("/").rsplit("/", 1)[-1]
    spec = openapi().spec
    item = spec / "paths" / f"/{endpoint}"
    if not item.exists() or not (item / method.lower()).exists():
        return None
    with (item / method.lower()).open() as operation:
        return dict(operation)


def _array_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("schema", {}).get("type") == "array"}


def _bad_defaults(operation: dict[str, Any]) -> set[str]:
    """Parameters whose declared default does not fit their own schema (null, MAX_INT, ...)."""
    bad = set()
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if "default" in schema and not OAS30Validator(schema).is_valid(schema["default"]):
            bad.add(parameter["name"])
    return bad


def normalised(request: Request) -> Request:
    """The request as the spec spells it: comma-separated array parameters become repeated ones."""
    operation = _operation(request.method, request.path)
    if operation is None:
        return request
    arrays = _array_parameters(operation)
    repeated = sorted(k for k in arrays if len(request.args.getlist(k)) > 1)
    if repeated:
        raise SpecViolation(
            f"parameter(s) {repeated} repeated: Cruise Control reads only the first value of a parameter; "
            "send one comma-separated value"
        )
    pairs = []
    for key, value in request.args.items(multi=True):
        if key in arrays:
            pairs += [(key, part) for part in value.split(",") if part != ""]
        else:
            pairs.append((key, value))
    environ = EnvironBuilder(
        method=request.method,
        base_url=request.host_url,
        path=request.path,
        query_string=urlencode(pairs),
        headers=list(request.headers.items()),
    ).get_environ()
    return Request(environ)


def check_request(request: Request) -> dict[str, Any]:
    """The query parameters, unmarshalled by the spec (defaults filled in); raises SpecViolation."""
    operation = _operation(request.method, request.path)
    if operation is None:
        raise SpecViolation(f"{request.method} {request.path} is not an operation of the OpenAPI description")
    spelled = normalised(request)
    result = openapi().unmarshal_request(WerkzeugOpenAPIRequest(spelled))
    bad_defaults = _bad_defaults(operation)
    errors = [
        e
        for e in result.errors
        if not (isinstance(e, InvalidParameter) and e.name in bad_defaults and e.name not in spelled.args)
    ]
    if errors:
        raise SpecViolation("; ".join(f"{type(e).__name__}: {e}" + _cause(e) for e in errors))
    return dict(result.parameters.query) if result.parameters is not None else {}


def check_response(request: Request, response: Response) -> None:
    """Raises SpecViolation when `response` is not what the spec allows for `request`."""
    result = openapi().unmarshal_response(WerkzeugOpenAPIRequest(normalised(request)), WerkzeugOpenAPIResponse(response))
    if result.errors:
        raise SpecViolation("; ".join(f"{type(e).__name__}: {e}" + _cause(e) for e in result.errors))


def _cause(error: BaseException) -> str:
    cause = error.__cause__
    details = getattr(cause, "schema_errors", None)
    if details:
        return " (" + "; ".join(str(getattr(d, "message", d)) for d in details) + ")"
    return f" ({cause})" if cause else ""
