"""Where BigCommerce's official OpenAPI specs and sample callbacks live for the tests, and helpers for them.

The reference files are never copied into the repo: `reference_dir()` is `$BCSYNC_REFERENCE_DIR`, else
`<repo>/../shared/reference`; tests that need it call `require_reference()`, which skips with a reason
when it is absent. `response_schema()` finds a response schema in a spec and inlines its `$ref`s;
`validate()` checks an instance against it as OpenAPI 3.0 (nullable, formats). Returned schemas are
cached and shared: copy before changing them.
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def reference_dir() -> Path | None:
    configured = os.environ.get("BCSYNC_REFERENCE_DIR")
    path = Path(configured) if configured else REPO.parent / "shared" / "reference"
    return path if path.is_dir() else None


def require_reference(*parts: str) -> Path:
    """The reference dir (or a file/dir inside it); pytest.skip with a reason when it is not there."""
    base = reference_dir()
    if base is None:
        pytest.skip(
            "BigCommerce reference files not found: set BCSYNC_REFERENCE_DIR or provide ../shared/reference"
        )
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference file {path} not found")
    return path


@cache
def openapi_spec(name: str) -> dict:
    """A spec from reference/bigcommerce/openapi/, e.g. openapi_spec("products_catalog.v3.yml")."""
    import yaml

    path = require_reference("bigcommerce", "openapi", name)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster on these 10k-line files
    return yaml.load(path.read_text(), Loader=loader)  # noqa: S506 - a safe loader


def sample_payloads() -> dict[str, dict]:
    """The official sample callbacks, by scope."""
    folder = require_reference("bigcommerce", "webhook-payloads")
    out = {}
    for path in sorted(folder.glob("*.json")):
        payload = json.loads(path.read_text())
        out[payload["scope"]] = payload
    return out


def _pointer(spec: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported: {ref}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inline_refs(spec: dict, node: Any, stack: tuple[str, ...] = ()) -> Any:
    """A copy of `node` with every local $ref replaced by its target (a recursive one by {})."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in stack:
                return {}
            return inline_refs(spec, _pointer(spec, ref), (*stack, ref))
        return {k: inline_refs(spec, v, stack) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(spec, v, stack) for v in node]
    return node


@cache
def response_schema(
    spec_name: str, path: str, method: str, status: str = "200", media: str = "application/json"
) -> dict:
    spec = openapi_spec(spec_name)
    operation = spec["paths"][path][method.lower()]
    response = operation["responses"][status]
    if "$ref" in response:
        response = _pointer(spec, response["$ref"])
    schema = response["content"][media]["schema"]
    return inline_refs(spec, schema)


@cache
def component_schema(spec_name: str, name: str) -> dict:
    spec = openapi_spec(spec_name)
    return inline_refs(spec, spec["components"]["schemas"][name])


def patched(schema: dict, path: tuple[str, ...], **changes: Any) -> dict:
    """A copy of `schema` with keys changed at `path` (for a documented erratum of the spec)."""
    out = copy.deepcopy(schema)
    node: Any = out
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node.update(changes)
    return out


def validate(instance: Any, schema: dict) -> None:
    """Raise jsonschema.ValidationError unless `instance` satisfies the OpenAPI 3.0 `schema`."""
    from jsonschema import FormatChecker
    from openapi_schema_validator import OAS30Validator

    OAS30Validator(schema, format_checker=FormatChecker()).validate(instance)


def declared_properties(schema: Any) -> set[str] | None:
    """Property names an object schema declares (through allOf/anyOf/oneOf); None if it allows anything."""
    if not isinstance(schema, dict):
        return None
    names: set[str] = set(schema.get("properties", {}))
    open_ended = not names and not any(k in schema for k in ("allOf", "anyOf", "oneOf"))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            sub_names = declared_properties(sub)
            if sub_names is None:
                continue
            names |= sub_names
    if open_ended or schema.get("additionalProperties") not in (None, False):
        return None
    return names


def undeclared_keys(instance: dict, schema: dict) -> set[str]:
    """Top-level keys of `instance` the schema does not declare (catches misspelt field names)."""
    names = declared_properties(schema)
    return set() if names is None else set(instance) - names
