"""Dependencies point down only: cli → commands → workflow → policy → adapters/config → the
small shared modules (errors, types, output, clock, app). A lower layer importing a higher one
(even lazily, inside a function) fails here, naming the import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "prodfix"
LAYER = {
    "__main__": 6,
    "cli": 5,
    "cli_team": 5,
    "clirun": 5,
    "launch": 5,
    "completion": 5,
    "commands": 4,
    "demo": 4,
    "serve": 4,
    "workflow": 3,
    "policy": 2,
    "adapters": 1,
    "config": 1,
    "app": 0,
    "output": 0,
    "clock": 0,
    "errors": 0,
    "types": 0,
    "tuples": 0,
    "jsontext": 0,
    "names": 0,
    "waiting": 0,
    "__init__": 0,
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYER.get(parts[1] if len(parts) > 1 else "__init__")


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("prodfix"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("prodfix")]
    return found


def test_every_module_has_a_layer() -> None:
    for path in ROOT.rglob("*.py"):
        module = "prodfix." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        assert _layer(module) is not None, f"{module}: add its package to LAYER"


def test_dependencies_point_down_only() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        module = "prodfix." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        mine = _layer(module)
        for target in _imports(path):
            theirs = _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{module} imports {target}")
    assert upward == []


def test_no_forge_type_tests_outside_the_forge_registry() -> None:
    """A new forge is one package and one registry line: nobody else asks which one it is."""
    allowed = {ROOT / "adapters" / "forges.py", ROOT / "commands" / "init.py"}
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if p not in allowed
        and ("forge.type ==" in p.read_text() or "forge.type !=" in p.read_text())
    ]
    assert offenders == []
