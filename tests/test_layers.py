"""The layers of ARCHITECTURE.md hold: no module of `lrcourse` imports from a layer above its own, the checker
never imports the grader, and no module reaches into another's private names."""

import ast
from pathlib import Path

import pytest

from support.paths import ROOT

# From the bottom: the learner's helpers, the test cells' checker, the sandbox (the trust boundary), the
# grader, the commands. Any module not named here is a learner's helper.
COMMANDS = {"lrcourse.cli", "lrcourse.build", "lrcourse.workspace", "lrcourse.start_page", "lrcourse.examples"}
LAYERS = ("helpers", "lrcourse.checking", "lrcourse.grading.sandbox", "lrcourse.grading", "commands")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    if module in COMMANDS:
        return LAYERS.index("commands")
    for index in (2, 3, 1):  # the most specific package first: the sandbox sits inside the grader
        if module == LAYERS[index] or module.startswith(LAYERS[index] + "."):
            return index
    return 0


def imports(path: Path):
    """(line, imported module, imported name or None) for each import of the file, wherever it stands."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                is_module = (ROOT / (submodule.replace(".", "/") + ".py")).exists()
                yield node.lineno, submodule if is_module else node.module, None if is_module else alias.name


MODULES = sorted((ROOT / "lrcourse").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_from_a_higher_layer_or_a_private_name(path):
    own = module_name(path)
    found = []
    for line, module, name in imports(path):
        if module.startswith("lrcourse") and layer(module) > layer(own):
            found.append(f"{path.name}:{line} imports {module} ({LAYERS[layer(module)]}, above {LAYERS[layer(own)]})")
        if name and name.startswith("_") and not name.startswith("__") and module.startswith("lrcourse"):
            found.append(f"{path.name}:{line} imports the private name {module}.{name}")
    assert found == []


def test_the_layers_see_what_they_should():
    """The rule above can fail: each layer is recognised, and an upward import would be reported."""
    assert [layer(m) for m in ("lrcourse.schedules", "lrcourse.checking.guard", "lrcourse.grading.sandbox.bwrap")] == [
        0,
        1,
        2,
    ]
    assert [layer(m) for m in ("lrcourse.grading.grade", "lrcourse.cli")] == [3, 4]
    assert layer("lrcourse.grading.worker") > layer("lrcourse.checking.observe")
