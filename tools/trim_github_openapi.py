"""Regenerate tests/fixtures/github-openapi/*.subset.json from GitHub's official OpenAPI description.

The full descriptions (github/rest-api-description, or npm @octokit/openapi) are 11-13 MB each,
too big to vendor; the fake
GitHub only needs the operations prodfix calls and the schemas they reference, so this keeps
exactly those (`$ref`s resolved transitively) and drops prose and examples.

    cd "$(mktemp -d)" && npm pack @octokit/openapi && tar xzf octokit-openapi-*.tgz
    python tools/trim_github_openapi.py package/generated  # from the repository root

With `--graphql SCHEMA` (schema.graphql from `npm pack @octokit/graphql-schema`) it also writes
`github.subset.graphql`: the types and fields prodfix's one GraphQL query selects, so the fake can
validate and execute that query against GitHub's published schema (needs graphql-core).

Run it again when prodfix starts calling a new endpoint (add it to OPERATIONS).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# (method, path) of every REST call src/prodfix/adapters/forge/github*.py and credentials.py make.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", "/user"),
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("post", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    # The team service (prodfix serve): check runs, comments read back, GitHub App auth and
    # webhook redelivery (src/prodfix/adapters/forge/github_checks.py, github_app.py).
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/check-runs"),
    ("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("get", "/repos/{owner}/{repo}/installation"),
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/app/hook/deliveries"),
    ("post", "/app/hook/deliveries/{delivery_id}/attempts"),
)
# Always kept: the body GitHub sends with errors that an operation does not declare (401 on most).
EXTRA_REFS = ("#/components/schemas/basic-error",)
DROP_KEYS = frozenset({"description", "examples", "example", "summary", "externalDocs"})
# Output name -> input file in the npm package's generated/ folder.
TARGETS = {
    "api.github.com.subset.json": "api.github.com.json",
    "ghes-3.19.subset.json": "ghes-3.19.json",
}


def _strip(node: Any, *, names: bool = False) -> Any:
    """Drop prose, examples and vendor extensions; `names` = node maps property names to schemas
    (a property may well be called "description" or "summary" and must stay)."""
    if isinstance(node, dict):
        return {
            k: _strip(v, names=(k == "properties" and not names))
            for k, v in node.items()
            if names or (k not in DROP_KEYS and not k.startswith("x-"))
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.append(v)
            else:
                found.extend(_refs(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_refs(v))
    return found


def _get(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def trim(doc: dict[str, Any], package: str = "") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path in OPERATIONS:
        item = doc["paths"][path]
        kept = paths.setdefault(path, {})
        kept[method] = _strip(item[method])
        if "parameters" in item:
            kept["parameters"] = _strip(item["parameters"])
    components: dict[str, dict[str, Any]] = {}
    todo = [r for r in _refs(paths) if not r.startswith("#/components/examples/")]
    todo += list(EXTRA_REFS)
    seen: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in seen or ref.startswith("#/components/examples/"):
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        node = _strip(_get(doc, ref))
        components.setdefault(kind, {})[name] = node
        todo.extend(_refs(node))
    return {
        "openapi": doc["openapi"],
        "info": {
            "title": doc["info"]["title"],
            "version": doc["info"]["version"],
            "x-trimmed-by": f"tools/trim_github_openapi.py from npm @octokit/openapi {package}",
        },
        "servers": doc.get("servers", []),
        "paths": paths,
        "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generated", type=Path, help="the npm package's generated/ folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "tests/fixtures/github-openapi",
    )
    parser.add_argument("--graphql", type=Path, help="schema.graphql of @octokit/graphql-schema")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    pkg_json = args.generated.parent / "package.json"
    package = json.loads(pkg_json.read_text())["version"] if pkg_json.exists() else ""
    for out_name, in_name in TARGETS.items():
        doc = json.loads((args.generated / in_name).read_text(encoding="utf-8"))
        subset = trim(doc, package)
        text = json.dumps(subset, indent=1, sort_keys=False) + "\n"
        (args.out / out_name).write_text(text, encoding="utf-8")
        print(f"{out_name}: {len(subset['paths'])} paths, {len(text)} bytes", file=sys.stderr)
    if args.graphql:
        sdl = trim_graphql(args.graphql.read_text(encoding="utf-8"))
        (args.out / "github.subset.graphql").write_text(sdl, encoding="utf-8")
        print(f"github.subset.graphql: {len(sdl)} bytes", file=sys.stderr)
    return 0


def trim_graphql(full_sdl: str) -> str:
    """The subset of GitHub's GraphQL schema that prodfix's query touches: selected fields of
    object types (interfaces dropped), unions cut to the selected members, and the complete
    definitions of the enums, scalars and inputs those fields use."""
    import graphql as g

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from prodfix.adapters.forge.github.graphql import QUERY

    # GitHub's published SDL defines a few EnterpriseOwnerInfo fields twice; irrelevant here.
    schema = g.build_schema(full_sdl, assume_valid_sdl=True)
    doc = g.parse(QUERY)
    if errors := g.validate(schema, doc):
        raise SystemExit(f"prodfix's query does not validate: {errors}")
    fields: dict[str, dict[str, g.GraphQLField]] = {}
    named: set[str] = set()
    type_info = g.TypeInfo(schema)

    class Collect(g.Visitor):
        def enter_field(self, node: g.FieldNode, *_: Any) -> None:
            parent, field = type_info.get_parent_type(), type_info.get_field_def()
            if parent is None or field is None or node.name.value.startswith("__"):
                return
            fields.setdefault(parent.name, {})[node.name.value] = field
            named.add(g.get_named_type(field.type).name)
            named.update(g.get_named_type(a.type).name for a in field.args.values())

        def enter_inline_fragment(self, node: g.InlineFragmentNode, *_: Any) -> None:
            if node.type_condition:
                named.add(node.type_condition.name.value)

    g.visit(doc, g.TypeInfoVisitor(type_info, Collect()))
    named |= set(fields)
    kept = {n for n in named if not g.is_specified_scalar_type(schema.type_map[n])}
    # Inputs and enums used by arguments may reference further inputs/enums: close over them.
    todo = [n for n in kept if g.is_input_object_type(schema.type_map[n])]
    while todo:
        for f in schema.type_map[todo.pop()].fields.values():  # type: ignore[attr-defined]
            t = g.get_named_type(f.type)
            if t.name not in kept and not g.is_specified_scalar_type(t):
                kept.add(t.name)
                if g.is_input_object_type(t):
                    todo.append(t.name)
    out = []
    for name in sorted(kept):
        t = schema.type_map[name]
        if g.is_object_type(t) or g.is_interface_type(t):
            sub = g.GraphQLObjectType(name, fields=fields.get(name, {}), description=None)
            out.append(g.print_type(sub))
        elif g.is_union_type(t):
            members = [m for m in t.types if m.name in kept]  # type: ignore[attr-defined]
            out.append(g.print_type(g.GraphQLUnionType(name, members)))
        else:
            out.append(g.print_type(t))
    out.insert(0, "# trimmed by tools/trim_github_openapi.py from npm @octokit/graphql-schema")
    return "\n\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
