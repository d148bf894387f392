"""The house's arrows checked: every import between dn's modules, those inside functions too.

    python tools/import_graph.py          # prints each broken rule; exit 1 if any

Rules (README, "Layout"):
* a package imports only packages on a lower floor (``FLOORS``), never one above or beside it,
  except the declared adapters (``ADAPTERS``: the `fitted` condition's densities, train -> dn_analysis);
* no cycle among modules, counting imports written inside functions (those under
  ``if TYPE_CHECKING:`` are left out: they never run).

The graph is read from the source with :mod:`ast` (nothing is imported), so a module that is
broken or slow to import is still checked.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOORS = {  # package -> floor; an arrow may only point to a lower floor
    "results": 0,
    "dn_data": 1,
    "train": 2,
    "importers": 2,
    "dn_analysis": 2,
    "studies": 3,
    "reports": 4,
    "dn": 5,
}
ADAPTERS = {("train.fitted", "dn_analysis")}  # (module, package) arrows allowed sideways


def modules(root: Path = ROOT) -> dict[str, Path]:
    """{dotted name: file} of every module of the packages in FLOORS."""
    out = {}
    for package in FLOORS:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
        or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, name: str, known: dict[str, Path]) -> set[str]:
    """Modules of ours that `tree` imports, anywhere but under `if TYPE_CHECKING:`."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = name.split(".")
                package = package[: len(package) - node.level + (1 if known[name].name == "__init__.py" else 0)]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m.split(".")[0] in FLOORS}


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {name: {m for m in _imports(ast.parse(path.read_text()), name, known) if m != name}
            for name, path in known.items()}


def bad_arrows(edges: dict[str, set[str]]) -> list[str]:
    """Arrows to a higher floor, or beside (another package on the same floor) outside ADAPTERS."""
    out = []
    for source, targets in sorted(edges.items()):
        here = source.split(".")[0]
        for target in sorted(targets):
            there = target.split(".")[0]
            if there == here or (source, there) in ADAPTERS:
                continue
            if FLOORS[there] >= FLOORS[here]:
                way = "up" if FLOORS[there] > FLOORS[here] else "sideways"
                out.append(f"{source} -> {target}: an arrow {way} ({here} is on floor {FLOORS[here]}, "
                           f"{there} on floor {FLOORS[there]})")
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges) + 100))
    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def problems(root: Path = ROOT) -> list[str]:
    edges = graph(root)
    return bad_arrows(edges) + [f"import cycle: {' <-> '.join(c)}" for c in cycles(edges)]


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    edges = graph()
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} arrows: "
          f"{'no cycle, every arrow points down' if not found else f'{len(found)} problem(s)'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
