"""The engine stays readable in one sitting, and the package's layers stay in order.

These are the measured promises of docs/engine-tour.md: the reading path's code
lines, its longest function, what the engine imports, derived registries, and no
import cycles anywhere in the package.
"""
import ast
import io
import re
import tokenize
from pathlib import Path

import tinygrad_edu as tg
from tinygrad_edu.engine import composed, ops
from tinygrad_edu.engine.function import Function

PACKAGE = Path(tg.__file__).parent
ENGINE = PACKAGE / "engine"
OP_DEFINITIONS = {"ops.py", "composed.py"}
READING_PATH = sorted(p for p in ENGINE.glob("*.py") if p.name not in OP_DEFINITIONS)


def code_lines(path: Path) -> set:
    """Line numbers holding code: not blank, not a comment, not a docstring."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            docstrings.update(range(node.lineno, node.end_lineno + 1))
    lines = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines - docstrings


def functions(path: Path):
    """(name, code lines) of every function and method in ``path``."""
    lines = code_lines(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, len({n for n in lines if node.lineno <= n <= node.end_lineno})


def test_the_reading_path_fits_one_sitting():
    total = sum(len(code_lines(p)) for p in READING_PATH)
    assert total <= 500, f"engine/ without its op definitions has {total} code lines (at most 500)"
    longest = max((size, f"{p.name}:{name}") for p in READING_PATH for name, size in functions(p))
    assert longest[0] <= 35, f"the longest function on the reading path is {longest[1]}, {longest[0]} code lines"


def test_the_tour_states_the_true_line_counts():
    """docs/engine-tour.md has a table of the reading path's files and their code lines."""
    tour = (PACKAGE.parent / "docs" / "engine-tour.md").read_text()
    stated = {name: int(n) for name, n in re.findall(r"^\| `engine/(\w+\.py)` \| (\d+) \|", tour, re.M)}
    measured = {p.name: len(code_lines(p)) for p in READING_PATH + [ENGINE / name for name in OP_DEFINITIONS]}
    assert stated == measured


def _imports(path: Path):
    """(module imported, level) for every import in ``path``, including those inside functions."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0, []


def test_the_engine_imports_nothing_of_the_rest_of_the_package():
    for path in ENGINE.glob("*.py"):
        for module, level, _ in _imports(path):
            assert level <= 1 and not (level == 0 and module.startswith("tinygrad_edu")), (path.name, module)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(importer: str, is_package: bool, module: str, level: int, names):
    """The package modules an import statement in ``importer`` loads."""
    if level == 0:
        targets = [module]
    else:
        base = importer.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (level - 1)]
        targets = [".".join(base + ([module] if module else []))]
    found = []
    for target in targets:
        for candidate in [target] + [f"{target}.{n}" for n in names]:
            if candidate in MODULES:
                found.append(candidate)
    return found


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_no_import_cycles_anywhere_in_the_package():
    graph = {}
    for name, path in MODULES.items():
        edges = set()
        for module, level, names in _imports(path):
            edges.update(_resolve(name, path.name == "__init__.py", module, level, names))
        # a module's own package __init__ runs before it: importing a parent package is no edge back
        graph[name] = {t for t in edges if not name.startswith(t + ".") and t != name}
    state, cycle = {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycle, f"import cycles: {cycle[:3]}"


def test_no_names_are_patched_into_modules_at_import_time():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    assert not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id in MODULE_ALIASES(tree)), (path, ast.unparse(node))


def MODULE_ALIASES(tree):
    """Names bound to modules by this file's imports (``from . import function`` binds ``function``)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def test_registries_are_derived():
    defined = [v for v in vars(ops).values() if isinstance(v, type) and issubclass(v, Function) and v is not Function]
    assert set(ops.PRIMITIVES) == set(defined) and len(ops.PRIMITIVES) == len(defined)
    public_methods = {n for n in vars(composed.TensorOps) if not n.startswith("_") and not n.endswith("_")}
    assert set(composed.ALIASES) == public_methods - {"float", "double", "T", "tensor_type", "matmul"} - set(
        composed.FUNCTIONS)
    assert set(composed.__all__) == set(composed.ALIASES) | set(composed.FUNCTIONS)
    for name in composed.__all__:
        assert getattr(tg, name) is getattr(composed, name), name


def test_a_primitive_needs_one_class_and_one_method():
    """Adding an op: a Function subclass in ops.py is a primitive at once; a TensorOps method is a tg function."""
    class Square(Function):
        "out = x * x;  dx = 2 * g * x"

    assert Square not in ops.PRIMITIVES  # defined outside ops.py: not listed
    source = (ENGINE / "ops.py").read_text()
    assert "PRIMITIVES = tuple(" in source and "Function)" in source  # the list is computed, not written out
