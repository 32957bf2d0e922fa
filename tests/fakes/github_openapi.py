"""GitHub's official OpenAPI description (trimmed, vendored) as a request/response validator.

The fixtures come from npm `@octokit/openapi` via tools/trim_github_openapi.py. OpenAPI 3.0
schemas are JSON Schema draft 4 plus `nullable`, which is rewritten here before handing them to
jsonschema. `skeleton()` builds the smallest instance of a schema (required fields only) so the
fake's responses carry every field GitHub promises; the fake then overlays its state.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github-openapi"
SPECS = {"github.com": "api.github.com.subset.json", "ghes": "ghes-3.19.subset.json"}


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if "type" in out and "enum" not in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]  # the operation object
    parameters: tuple[dict[str, Any], ...]


class OpenApi:
    @classmethod
    @cache
    def of(cls, flavour: str) -> OpenApi:
        """The flavour's description, read once per test process: it is never changed after
        it is read, and every fake server of the session validates against the same one (and
        so shares its validators and what they found)."""
        return cls(flavour)

    def __init__(self, flavour: str) -> None:
        raw = json.loads((FIXTURES / SPECS[flavour]).read_text(encoding="utf-8"))
        self.doc: dict[str, Any] = raw
        self.components = _nullable(raw["components"])
        self.operations: list[Operation] = []
        for template, item in raw["paths"].items():
            shared = item.get("parameters", [])
            rx = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            for method, op in item.items():
                if method == "parameters":
                    continue
                params = tuple(self.resolve(p) for p in [*shared, *op.get("parameters", [])])
                self.operations.append(
                    Operation(
                        method.upper(),
                        template,
                        op["operationId"],
                        re.compile(rx + "$"),
                        op,
                        params,
                    )
                )

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            kind, name = node["$ref"].split("/")[-2:]
            node = self.doc["components"][kind][name]
        return node

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations:
            m = op.pattern.match(path)
            if m and op.method == method:
                return op, m.groupdict()
        return None

    # -- validation ----------------------------------------------------------------------------

    def errors(self, schema: Any, instance: Any) -> list[str]:
        """What is wrong with `instance` against `schema`. Remembered per (schema, instance):
        the same pull request or review is sent back many times, and validating it again
        against GitHub's schema is most of the fake's time."""
        return list(
            self._errors(json.dumps(schema, sort_keys=True), json.dumps(instance, sort_keys=True))
        )

    @lru_cache(maxsize=1024)  # noqa: B019 - one OpenApi per flavour lives for the whole session (`of`)
    def _errors(self, schema_json: str, instance_json: str) -> tuple[str, ...]:
        return tuple(
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in self._validator(schema_json).iter_errors(json.loads(instance_json))
        )

    @cache  # noqa: B019 - one OpenApi per flavour lives for the whole test session
    def _validator(self, schema_json: str) -> jsonschema.Draft4Validator:
        root = {"allOf": [_nullable(json.loads(schema_json))], "components": self.components}
        return jsonschema.Draft4Validator(root)

    def check_request(
        self,
        op: Operation,
        path_params: dict[str, str],
        query: dict[str, list[str]],
        body: Any,
    ) -> list[str]:
        errs: list[str] = []
        declared = {p["name"]: p for p in op.parameters}
        for name, values in query.items():
            p = declared.get(name)
            if p is None or p["in"] != "query":
                errs.append(f"query parameter {name!r} is not declared for {op.operation_id}")
                continue
            errs += [f"query {name}: {e}" for e in self.errors(p["schema"], _coerce(p, values[-1]))]
        for p in op.parameters:
            if p["in"] == "path":
                value = _coerce(p, path_params[p["name"]])
                errs += [f"path {p['name']}: {e}" for e in self.errors(p["schema"], value)]
            elif p["in"] == "query" and p.get("required") and p["name"] not in query:
                errs.append(f"required query parameter {p['name']!r} missing")
        rb = self.resolve(op.spec.get("requestBody"))
        if rb is None:
            if body is not None:
                errs.append(f"{op.operation_id} takes no request body")
        elif body is None:
            if rb.get("required"):
                errs.append(f"{op.operation_id} requires a request body")
        else:
            schema = rb["content"]["application/json"]["schema"]
            errs += [f"body {e}" for e in self.errors(schema, body)]
        return errs

    def check_response(self, op: Operation | None, status: int, body: Any) -> list[str]:
        declared = None if op is None else op.spec["responses"].get(str(status))
        if declared is None:
            if status < 400:
                name = op.operation_id if op else "(no operation)"
                return [f"{name} does not declare status {status}"]
            # Errors an operation does not list (401, 429, 502 ...) carry GitHub's basic-error.
            return [] if body is None else self.errors(_ref("basic-error"), body)
        declared = self.resolve(declared)
        content = declared.get("content", {}).get("application/json")
        if content is None:
            return [] if body is None else [f"status {status} declares no body"]
        return self.errors(content["schema"], body)

    # -- instances -----------------------------------------------------------------------------

    def response_schema(self, operation_id: str, status: int) -> Any:
        op = next(o for o in self.operations if o.operation_id == operation_id)
        declared = self.resolve(op.spec["responses"][str(status)])
        return declared["content"]["application/json"]["schema"]

    def skeleton(self, schema: Any) -> Any:
        return copy.deepcopy(_skeleton(self, json.dumps(schema, sort_keys=True)))


@cache
def _skeleton(api: OpenApi, schema_json: str) -> Any:
    return _build(api, json.loads(schema_json))


def _build(api: OpenApi, schema: Any) -> Any:
    schema = api.resolve(schema)
    if schema.get("nullable"):
        return None
    if "allOf" in schema:
        out: dict[str, Any] = {}
        for part in schema["allOf"]:
            out.update(_build(api, part))
        return out
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _build(api, schema[key][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _build(api, props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-11-26T00:00:00Z"
        return "https://example.invalid/" if fmt == "uri" else ""
    return {"integer": 0, "number": 0, "boolean": False}[kind]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _coerce(param: dict[str, Any], value: str) -> Any:
    kind = param.get("schema", {}).get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value  # let the schema report it
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value
