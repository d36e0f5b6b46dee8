"""The packages read one way: each imports only from the layers below it, so there is no cycle between them.

Layers, lowest first (docs/interface.md, "Code layout"): errors, parameters and languages; data and modeling;
tasks; training; checkpoint; tracking and config; stages; cli; demo and analysis. Imports inside functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RANK = {"errors": 0, "parameters": 0, "languages": 0, "__init__": 0, "data": 1, "modeling": 1, "tasks": 2,
        "training": 3, "checkpoint": 4, "tracking": 5, "config": 5, "stages": 6, "cli": 7, "demo": 8, "analysis": 8}


def _part(module: str) -> str:
    """`zero2hero.data.files` -> `data`; `analysis.costs` -> `analysis`."""
    parts = module.split(".")
    if parts[0] == "analysis":
        return "analysis"
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, module: str):
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                yield node.lineno, ".".join(base + ([node.module] if node.module else []))
            elif node.module:
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def _modules():
    for path in sorted((ROOT / "src" / "zero2hero").rglob("*.py")):
        relative = path.relative_to(ROOT / "src").with_suffix("")
        yield path, ".".join(relative.parts).removesuffix(".__init__")
    for path in sorted((ROOT / "analysis").rglob("*.py")):
        yield path, ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_every_part_has_a_layer():
    parts = {_part(module) for _, module in _modules()}
    assert parts <= set(RANK), f"add {sorted(parts - set(RANK))} to RANK (and to the docs' code layout)"


def test_no_import_reaches_up_or_sideways():
    wrong = []
    for path, module in _modules():
        source = _part(module)
        for line, target in _imports(path, module):
            if not target.startswith(("zero2hero", "analysis")) or target == "zero2hero":
                continue
            destination = _part(target)
            if destination != source and RANK[destination] >= RANK[source]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {target} ({destination})")
    assert not wrong, "\n".join(wrong)
