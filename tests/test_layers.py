"""The layers of ARCHITECTURE.md hold: no module of `lrcourse` imports from a layer above its own, the checker
never imports the grader, inside the grader the trusted verdicts' chain and the sandbox's two sides import only
downwards, and no file (the package, grader/, scripts/, tests/) reaches into another module's private names.
The test tree shares code through tests/support only: no test file imports another or edits sys.path."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import ROOT

# From the bottom: the learner's helpers, the test cells' checker, the sandbox (the trust boundary), the
# grader, the commands. Any module not named here is a learner's helper.
COMMANDS = {
    *("lrcourse.cli", "lrcourse.build", "lrcourse.workspace", "lrcourse.start_page", "lrcourse.examples"),
    "lrcourse.self_check",
    "lrcourse.saved_check",
    "lrcourse.commands",
}
LAYERS = ("helpers", "lrcourse.checking", "lrcourse.grading.sandbox", "lrcourse.grading", "commands")
# Files outside the package, by the layer they belong to: the grader's references are loaded by the checker
# (lrcourse.checking.expected), so they sit on its layer; the rest of grader/ (make_expected) and the scripts are
# commands.
OUTSIDE = {"grader/references.py": "lrcourse.checking", "grader": "commands", "scripts": "commands"}

# Inside the grader, the trusted verdicts as drawn (grade -> worker -> verdicts -> remote): each imports only
# those to its right; whatever else the worker uses (drawn below it) imports neither worker nor grade; and what
# takes submissions in or reads a graded class back (drawn beside the chain) imports none of it, so reading the
# results never loads the pipeline that grades them.
GRADING = "lrcourse.grading."
CHAIN = (
    "autograde.remote",
    "autograde.verdicts",
    "autograde.worker",
    "fleet.worker",
    "fleet.write",
    "autograde.grade",
    "fleet.grade",
)  # from the bottom
BESIDE_THE_CHAIN = {
    *("course", "intake", "outcomes", "exercise", "exchange.collect", "exchange.inbound", "exchange.nbgrader_collect"),
    "exchange.nbgrader_release",
    "exchange.submission_secrets",
    "exchange.unfinished_submit",
    "exchange.broken_submit",
    "exchange.mounts",
    "exchange.inbound_folder",
    "exchange.root",
    *(
        "reports.results",
        "reports.export",
        "reports.class_report",
        "spreadsheet",
        "browser.sanitize",
        "browser.markup",
        "browser.bounded_render",
        "browser.content_policy",
    ),
}
# The grader's rooms, from the bottom (ARCHITECTURE.md): a module imports only from its own room or one listed before
# it; "" is the ground, the modules of lrcourse.grading itself (the course, intake, outcomes...) that the rooms above
# the sandbox use (the sandbox, a layer of its own below, uses none of them).
ROOMS = ("sandbox", "", "browser", "exchange", "autograde", "doctor", "reports", "fleet")


def room(module: str) -> str:
    first = module.removeprefix(GRADING).split(".")[0] if module.startswith(GRADING) else ""
    return first if first in ROOMS else ""


# Inside the sandbox: what runs in a student's process never loads the grader's side of it (answers ->
# answer_zygote; kernels, kernel_client, message_shapes -> kernel_zygote, kernel_relay, kernel_output; zygote serves
# both), and the limits every student process runs in load neither side.
SANDBOX = "lrcourse.grading.sandbox."
PARENTS = {"answers", "kernels", "kernel_client", "message_shapes"}
CHILDREN = {"answer_zygote", "kernel_zygote", "kernel_relay", "kernel_output", "zygote"}
LIMITS = {"bwrap", "cgroups", "limits", "namespaces", "no_lr_scheduler", "leftovers", "tree_removal", "sandbox_uid"}
FIRST_PARTY = ("lrcourse", "support", "catalogue")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    if module in COMMANDS or module.startswith("lrcourse.commands."):  # `lrcourse`'s verbs, one module each
        return LAYERS.index("commands")
    for index in (2, 3, 1):  # the most specific package first: the sandbox sits inside the grader
        if module == LAYERS[index] or module.startswith(LAYERS[index] + "."):
            return index
    return 0


def file_layer(path: Path) -> int:
    relative = path.relative_to(ROOT)
    if relative.parts[0] == "lrcourse":
        return layer(module_name(path))
    if relative.parts[0] == "tests":
        return LAYERS.index("commands")
    return LAYERS.index(OUTSIDE.get(relative.as_posix(), OUTSIDE.get(relative.parts[0])))


def imports(path: Path):
    """(line, imported module, imported name or None) for each import of the file, wherever it stands."""
    package = module_name(path).split(".")[: -1 if path.name != "__init__.py" else None]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # a relative import names its module from the file's package
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                is_module = (ROOT / (submodule.replace(".", "/") + ".py")).exists()
                yield node.lineno, submodule if is_module else module, None if is_module else alias.name


def upward(own: str, own_layer: int, module: str) -> str | None:
    """Why importing `module` from `own` goes up a layer drawn in ARCHITECTURE.md, or None."""
    if not module.startswith("lrcourse"):
        return None
    if layer(module) > own_layer:
        return f"{module} ({LAYERS[layer(module)]}, above {LAYERS[own_layer]})"
    mine, theirs = own.removeprefix(GRADING), module.removeprefix(GRADING)
    if own.startswith(GRADING) and module.startswith(GRADING) and theirs in CHAIN:
        if mine in CHAIN:
            above = CHAIN.index(theirs) > CHAIN.index(mine)
        else:
            above = mine in BESIDE_THE_CHAIN or CHAIN.index(theirs) >= CHAIN.index("autograde.worker")
        if above:
            return f"{module} (the trusted verdicts' chain, above {own})"
    if own.startswith(GRADING) and module.startswith(GRADING) and ROOMS.index(room(module)) > ROOMS.index(room(own)):
        return f"{module} (the grader's room {room(module)}/, above {room(own) or 'the ground'})"
    mine, theirs = own.removeprefix(SANDBOX), module.removeprefix(SANDBOX)
    if own.startswith(SANDBOX) and module.startswith(SANDBOX):
        if (mine in CHILDREN | LIMITS and theirs in PARENTS) or (mine in LIMITS and theirs in CHILDREN):
            return f"{module} (the sandbox's {'grader' if theirs in PARENTS else 'student'} side, above {own})"
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def first_party_names(tree: ast.AST) -> set[str]:
    """The names a file's imports of this repository's code bind (`import lrcourse.x` binds `lrcourse`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith(FIRST_PARTY)}
        elif isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(FIRST_PARTY)):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def private_attributes(source: str) -> list[tuple[int, str]]:
    """(line, expression) for each private attribute reached through a first-party import (`guard._x`)."""
    tree = ast.parse(source)
    bound, found = first_party_names(tree), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bound:
                found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def findings(path: Path) -> list[str]:
    """Each import of the file that goes up a layer or takes a private name of this repository's code, and each
    private attribute the file reads through such an import."""
    own, own_layer, found = module_name(path), file_layer(path), []
    for line, module, name in imports(path):
        if why := upward(own, own_layer, module):
            found.append(f"{path.name}:{line} imports {why}")
        if name and is_private(name) and module.startswith(FIRST_PARTY):
            found.append(f"{path.name}:{line} imports the private name {module}.{name}")
    found += [
        f"{path.name}:{line} reads the private name {expr}" for line, expr in private_attributes(path.read_text())
    ]
    return found


MODULES = sorted((ROOT / "lrcourse").rglob("*.py"))
OTHERS = sorted([*(ROOT / "grader").glob("*.py"), *(ROOT / "scripts").glob("*.py")])
TESTS = sorted((ROOT / "tests").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES + OTHERS + TESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_imports_from_a_higher_layer_or_a_private_name(path):
    assert findings(path) == []


def not_through_support(path: Path) -> list[str]:
    """What a test file imports or does that only the pytest machinery should: another test file, sys.path."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            names = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        last = [name.rsplit(".", 1)[-1] for name in names]
        found += [f"{path.name}:{node.lineno} imports {n}" for n in last if n.startswith("test_") or n == "conftest"]
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
            found.append(f"{path.name}:{node.lineno} touches sys.path (pyproject's pythonpath sets the tests' path)")
    return found


@pytest.mark.parametrize("path", TESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_file_imports_another_or_edits_sys_path(path):
    assert not_through_support(path) == []


def test_the_layers_see_what_they_should():
    """The rules above can fail: each layer is recognised, and each kind of upward import would be reported."""
    assert [layer(m) for m in ("lrcourse.schedules", "lrcourse.checking.guard", "lrcourse.grading.sandbox.bwrap")] == [
        0,
        1,
        2,
    ]
    assert [layer(m) for m in ("lrcourse.grading.autograde.grade", "lrcourse.cli")] == [3, 4]
    assert layer("lrcourse.commands.grade") == layer("lrcourse.commands") == 4  # `lrcourse`'s verbs
    assert layer("lrcourse.grading.autograde.worker") > layer("lrcourse.checking.observe")
    assert [file_layer(ROOT / p) for p in ("grader/references.py", "grader/make_expected.py", "scripts/bench.py")] == [
        1,
        4,
        4,
    ]
    reported = [
        ("lrcourse.checking.guard", "lrcourse.grading.course"),  # the checker loading the grader
        (
            "lrcourse.grading.reports.results",
            "lrcourse.grading.autograde.worker",
        ),  # reading results back loading the pipeline
        ("lrcourse.grading.autograde.verdicts", "lrcourse.grading.autograde.worker"),  # down the chain, then up it
        (
            "lrcourse.grading.autograde.late",
            "lrcourse.grading.autograde.grade",
        ),  # what the worker uses loading the worker's caller
        ("lrcourse.grading.sandbox.kernel_zygote", "lrcourse.grading.sandbox.kernels"),  # a child loading its parent
        ("lrcourse.grading.sandbox.bwrap", "lrcourse.grading.sandbox.zygote"),  # the limits loading a process
        ("lrcourse.grading.intake", "lrcourse.grading.exchange.inbound"),  # the ground loading a room
        ("lrcourse.grading.exchange.collect", "lrcourse.grading.fleet.parcel"),  # a room loading one above it
        ("lrcourse.grading.autograde.late", "lrcourse.grading.reports.export"),  # grading loading a report
    ]
    for own, module in reported:
        assert upward(own, layer(own), module), (own, module)
    allowed = [
        ("lrcourse.grading.autograde.grade", "lrcourse.grading.autograde.worker"),
        ("lrcourse.grading.autograde.worker", "lrcourse.grading.outcomes"),  # was worker -> results: now a room above
        (
            "lrcourse.grading.autograde.worker_uses_this",
            "lrcourse.grading.autograde.verdicts",
        ),  # drawn below the worker, beside verdicts
        ("lrcourse.grading.sandbox.kernels", "lrcourse.grading.sandbox.kernel_client"),
        ("lrcourse.grading.sandbox.answer_zygote", "lrcourse.grading.sandbox.zygote"),
        ("lrcourse.grading.reports.results", "lrcourse.grading.autograde.verdict_files"),
        ("lrcourse.grading.fleet.worker", "lrcourse.grading.intake"),
    ]
    assert [upward(own, layer(own), module) for own, module in allowed] == [None] * len(allowed)


def test_private_names_are_seen_through_an_attribute():
    """The private-name rule can fail on an attribute, not only on `from x import _y`."""
    probe = (
        "import lrcourse.checking.expected\nfrom lrcourse.checking import guard\nimport support.paths as paths\n"
        "guard._x\nlrcourse.checking.expected._RECORDER\npaths._root.name\nguard.__doc__\nother._y\n"
    )
    assert private_attributes(probe) == [
        (4, "guard._x"),
        (5, "lrcourse.checking.expected._RECORDER"),
        (6, "paths._root"),
    ]


def test_every_module_the_rules_name_exists():
    """A renamed module would silently stop being checked."""
    named = [GRADING + m for m in (*CHAIN, *BESIDE_THE_CHAIN)] + [SANDBOX + m for m in PARENTS | CHILDREN | LIMITS]
    missing = [m for m in named if not (ROOT / (m.replace(".", "/") + ".py")).is_file()]
    assert missing == [] and all((ROOT / p).exists() for p in OUTSIDE)
    assert all((ROOT / "lrcourse" / "grading" / name / "__init__.py").is_file() for name in ROOMS if name)


LOADED = """import json, sys
before = set(sys.modules)
for module in sys.argv[1:]:
    __import__(module)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded(*groups: list[str]) -> list[list[str]]:
    """For each group, the modules a fresh interpreter loads to import it (the interpreters run side by side)."""
    command = [sys.executable, "-c", LOADED]
    runs = [
        subprocess.Popen([*command, *group], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for group in groups
    ]
    outputs = [run.communicate() for run in runs]
    assert [run.returncode for run in runs] == [0] * len(runs), [err[-2000:] for _, err in outputs]
    return [json.loads(out) for out, _ in outputs]


def test_what_an_import_loads_stays_in_its_layers():
    """The rules above see direct imports; this sees what importing a module loads through every step: the
    checker loads none of the grader, and reading a graded class back loads neither the pipeline nor torch."""
    checker, readers = loaded(
        ["lrcourse.checking"], [GRADING + m for m in ("reports.results", "reports.export", "reports.class_report")]
    )
    assert "lrcourse.checking.guard" in checker  # the probe saw the import happen
    assert [m for m in checker if m.startswith("lrcourse.grading")] == []
    assert GRADING + "reports.class_report" in readers
    pipeline = tuple(GRADING + m for m in ("autograde.verdicts", "autograde.worker", "autograde.remote"))
    assert [m for m in readers if m.startswith(pipeline) or m == "torch" or m.startswith("torch.")] == []


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle of imports met by a depth-first walk of `graph` (module -> the modules it imports)."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                found.append(path[path.index(imported) :] + [imported])
            elif imported in graph and imported not in state:
                visit(imported, path)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return found


def test_no_two_modules_import_each_other_even_inside_a_function():
    """Layers aside, two modules that import each other (one of them inside a function, where the layer rule's
    ordering of the commands does not reach) are one job split in two, or a command in the wrong module."""
    graph = {}
    for path in sorted((ROOT / "lrcourse").rglob("*.py")):
        own = module_name(path)
        graph[own] = {module for _, module, _ in imports(path) if module.startswith("lrcourse") and module != own}
    assert import_cycles(graph) == []
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
