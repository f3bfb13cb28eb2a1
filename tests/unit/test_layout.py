"""The house rules of the code (docs/decisions.md "Layout"), checked on the source rather than trusted.

- No module of ``support`` or of the tools package ``permiso_acceptance`` is longer than 500 lines.
- No import cycle among their modules (imports inside functions and under ``TYPE_CHECKING`` count: a
  cycle that only bites at call time is still a cycle).
- ``support`` is layered: wire < checks < people < domains < lifecycle, and a module imports only from its
  own layer or the ones before it.
- Nothing in ``support`` or ``features`` imports ``permiso_acceptance``: the suite runs without its tools.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("support", "permiso_acceptance")
LAYERS = ("support.wire", "support.checks", "support.people", "support.domains", "support.lifecycle",
          "permiso_acceptance")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[str]:
    """The modules of MODULES that ``module`` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            bases, names = [base], [alias.name for alias in node.names]
        else:
            continue
        for base in bases:
            candidates = [f"{base}.{name}" for name in names if f"{base}.{name}" in MODULES] or [base]
            for candidate in candidates:
                while candidate and candidate not in MODULES:
                    candidate = candidate.rpartition(".")[0]
                if candidate and candidate != module and not module.startswith(candidate + "."):
                    yield candidate


EDGES = {module: set(_imported(module, path)) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    return next((i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")), -1)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_longer_than_500_lines(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(ROOT)} has {lines} lines: cut it along a seam"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round about (Tarjan's components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in edges.get(module, ()):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle() -> None:
    assert _cycles(EDGES) == []


def test_each_layer_imports_only_the_layers_before_it() -> None:
    upward = sorted((m, t) for m, targets in EDGES.items() for t in targets if _layer(t) > _layer(m) >= 0)
    assert upward == []


def test_neither_support_nor_features_import_the_tools() -> None:
    offenders = [m for m, targets in EDGES.items() if m.startswith("support")
                 for t in targets if t.startswith("permiso_acceptance")]
    for path in sorted((ROOT / "features").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "permiso_acceptance"]
    assert offenders == []


def test_the_checker_sees_what_it_must() -> None:
    """A checker that finds no edge passes everything: make sure it reads real imports."""
    assert "support.wire.client" in EDGES["support.lifecycle.run"]
    assert "support.lifecycle.target" in EDGES["permiso_acceptance.load"]
    assert _layer("support.people.pool") < _layer("support.domains.perf")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
