"""The package's shape: short modules, imports that point one way, and code that explains itself
rather than narrating its history."""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pagoda_inverse"
MAX_LINES = 300


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def top_level_imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules `name` imports when it is imported (module level, not inside functions)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in tree.body:
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def test_no_module_over_the_line_limit():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_import_circle():
    known = modules()
    graph = {name: top_level_imports(name, path, known) for name, path in known.items()}
    # A package imports its own submodules (its __init__ re-exports them): that edge is not a circle.
    graph = {a: {b for b in deps if not b.startswith(a + ".")} for a, deps in graph.items()}
    state, stack = {}, []

    def visit(a):
        state[a] = "open"
        stack.append(a)
        for b in sorted(graph[a]):
            if state.get(b) == "open":
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(b):] + [b]))
            if b not in state:
                visit(b)
        stack.pop()
        state[a] = "done"

    for a in sorted(graph):
        if a not in state:
            visit(a)


def test_the_circle_check_finds_a_circle(tmp_path, monkeypatch):
    """The check above must be able to fail: a two-module circle is reported."""
    pkg = tmp_path / "pagoda_inverse"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from .b import f\n")
    (pkg / "sub" / "b.py").write_text("from . import a\n\ndef f():\n    pass\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    try:
        test_no_import_circle()
    except AssertionError as e:
        assert "pagoda_inverse.sub.a" in str(e) and "pagoda_inverse.sub.b" in str(e)
    else:
        raise AssertionError("the circle a -> b -> a was not found")


HISTORY = re.compile(r"\b(issue|issues) #?\d+|\bsession\b|\bthe last stop\b|\.\./shared|PAGODA\.md", re.IGNORECASE)


def test_no_history_or_outside_references_in_code_and_configs():
    files = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.toml")]
    hits = [f"{p.relative_to(PACKAGE.parent)}:{i}: {line.strip()}" for p in files
            for i, line in enumerate(p.read_text().splitlines(), 1) if HISTORY.search(line)]
    assert not hits, "history or outside references:\n" + "\n".join(hits)
