"""The package's imports run one way: every module imports first in a fresh interpreter, and
no module imports a package that imports it back."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "xai_gan"
# the layers, in import order: a module may import only from its own layer or earlier ones
LAYERS = [
    {"checks", "claims", "io", "layout", "settings", "profiles", "progress", "zoo", "efficientnet",
     "devices", "inputs", "scoped", "layers", "backbones", "data", "training", "maps",
     "plotting", "hooks", "classifiers", "workers"},
    {"representation"},
    {"explainers"},
    {"store"},
    {"gan"},
    {"metrics"},
    {"config", "interpret", "widgets", "results", "explain"},
    {"pipeline"},
    {"studies"},
    {"report"},
    {"stages"},
    {"job"},
    {"cli", "__main__"},
]


def modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported(name: str) -> set[str]:
    """The package modules ``name`` imports (relative or absolute), wherever in the file."""
    path = PACKAGE.parent / (name.replace(".", "/") + ".py")
    is_package = not path.exists()
    if is_package:
        path = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = (here[:len(here) - node.level + 1] if node.level else [])
            module = ".".join(base + ([node.module] if node.module else []))
            if module.startswith("xai_gan"):
                for alias in node.names:
                    full = f"{module}.{alias.name}"
                    out.add(full if full in MODULES else module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("xai_gan")}
    return out - {name}


MODULES = set(modules())


def layer(name: str) -> int:
    top = name.split(".")[1] if "." in name else name
    return next(i for i, members in enumerate(LAYERS) if top in members)


def test_every_module_is_in_a_layer_and_imports_only_earlier_layers():
    for name in MODULES - {"xai_gan"}:
        for other in imported(name):
            if other == "xai_gan":
                continue
            assert layer(other) <= layer(name), f"{name} imports the later {other}"


def test_no_import_circle_between_packages():
    """A submodule import runs its package's __init__ first: a circle through an __init__ is
    a circle too."""
    graph = {}
    for name in MODULES - {"xai_gan"}:
        edges = set()
        for target in imported(name) - {"xai_gan"}:
            parts = target.split(".")
            # importing xai_gan.a.b from outside xai_gan.a first runs xai_gan.a's __init__
            prefixes = {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
            edges |= {p for p in prefixes if p != name and not name.startswith(p + ".")}
        graph[name] = edges
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != "open", " -> ".join(path + [nxt])
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_each_module_imports_first_in_a_fresh_interpreter_without_the_package_init():
    """The package's __init__ is replaced by an empty package, then each module is imported
    first: a circle that only works in __init__'s order fails here. One interpreter; each
    module starts from no xai_gan module loaded (torch and friends stay, they are not ours)."""
    script = f"""
import importlib, sys, types
names = {sorted(MODULES - {"xai_gan", "xai_gan.__main__"})!r}
for name in names:
    for loaded in [m for m in sys.modules if m == "xai_gan" or m.startswith("xai_gan.")]:
        del sys.modules[loaded]
    package = types.ModuleType("xai_gan")
    package.__path__ = [{str(PACKAGE)!r}]
    sys.modules["xai_gan"] = package
    try:
        importlib.import_module(name)
    except Exception as err:
        print(f"{{name}}: {{type(err).__name__}}: {{err}}")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "", result.stdout


MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 400


def function_lengths(node, prefix=""):
    """``(qualified name, lines from ``def`` to the end, docstring included)`` of every
    function in ``node``, methods and nested functions too."""
    for child in ast.iter_child_nodes(node):
        name = prefix + getattr(child, "name", "")
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield name, child.end_lineno - child.lineno + 1
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from function_lengths(child, name + ".")


def test_functions_and_modules_stay_small():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE.parent).as_posix()
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            offenders.append(f"{module}: {len(text.splitlines())} lines")
        for name, length in function_lengths(ast.parse(text)):
            if length > MAX_FUNCTION_LINES:
                offenders.append(f"{module}:{name}: {length} lines")
    assert not offenders, (f"over {MAX_FUNCTION_LINES} lines a function or "
                           f"{MAX_MODULE_LINES} a module:\n" + "\n".join(offenders))
