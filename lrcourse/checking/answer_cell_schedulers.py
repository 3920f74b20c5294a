"""In the notebook: a plain-data answer's cell that runs PyTorch's schedulers, flagged before it is graded.

The reading exercises (chapter 2's StepLR log, chapter 3's ReduceLROnPlateau run) invite a replay through PyTorch's
scheduler to check a reading, and their setup cells import it. The answer cell is graded without
torch.optim.lr_scheduler (`grading.sandbox.no_lr_scheduler`): a scheduler built there raises when graded, and what the
cell had not assigned by then scores 0, while the kernel, which has PyTorch's schedulers, keeps the test cells green
(issue 23, R23b). So the visible test cell reads the cell that last assigned the answer (IPython's history, as
`self_contained` does) and fails if it names a scheduler in the code that runs before the answer is bound: the
statements up to the answer, and the bodies of the cell's functions they call (`answer_cell_runs`; a replay defined
before the answer and called after it runs after it, R23f W1). A scheduler is named by its own name, by a kernel
name bound to one, or by a name the cell imports it under (`... import ReduceLROnPlateau as Plateau`, R23f M1); so is the course's
plateau_run, which runs one (R23g W2). The
answer cell as saved in the notebook, the cell graded, is read too (`saved_answer`, which the self-contained check
shares): the answer retyped in a new cell below hid it from the history (R23g W1). Only these cells are read:
a replay in a scratch cell, or after the answer in its cell, keeps its points and passes.
The grader's process has no IPython history, so the grade itself is left to what the answer's process does.
"""

from __future__ import annotations

import ast
import sys
from types import ModuleType

from lrcourse.checking.answer_cell_runs import run_before_the_answer
from lrcourse.checking.expect import expect
from lrcourse.checking.kernel_history import assigning_cell
from lrcourse.checking.saved_answer import kernel_shell, saved_answer_cells
from lrcourse.checking.self_contained import names_read_not_bound

SCHEDULER_MODULES = ("torch.optim.lr_scheduler", "torch.optim.swa_utils")
# torch 2.13.0's schedulers (tests/test_answer_cell_schedulers.py holds it to lr_scheduler's own list), the modules
# by the names the chapters import them under, and the course's helper that runs a real ReduceLROnPlateau
SCHEDULER_NAMES = frozenset(
    {
        "LRScheduler",
        "_LRScheduler",
        "LambdaLR",
        "MultiplicativeLR",
        "StepLR",
        "MultiStepLR",
        "ConstantLR",
        "LinearLR",
        "ExponentialLR",
        "SequentialLR",
        "PolynomialLR",
        "CosineAnnealingLR",
        "ChainedScheduler",
        "ReduceLROnPlateau",
        "CyclicLR",
        "CosineAnnealingWarmRestarts",
        "OneCycleLR",
        "SWALR",
        "lr_scheduler",
        "swa_utils",
        "plateau_run",
    }
)
# The course's functions that run a scheduler of their own, by module: a name the cell imports them under is a
# scheduler's name, and a kernel name bound to one is read as one (R23g W2). lrcourse.schedules' lr_curve builds its
# scheduler with the cell's factory, read where the cell writes it.
SCHEDULER_HELPERS = {"lrcourse.schedules": ("plateau_run",)}
# What a reading of the cell's text cannot follow: code run from a string, names set or read through a namespace (a
# `global` a function sets is the other way, R23g), an attribute named by a computed string (`getattr(m, "Step" +
# "LR")`, R23j M3; `getattr(m, "StepLR")` is read as `m.StepLR`). Before the answer they earn a note, not a failure: an
# honest cell may use them, and the check cannot tell what they run.
INDIRECT_READS = frozenset({"attrgetter", "methodcaller"})  # operator's (names or attributes): a string names the read
UNFOLLOWED = frozenset(
    {"exec", "eval", "compile", "globals", "locals", "vars", "setattr", "__import__", *INDIRECT_READS}
)


def _namespace() -> dict:
    """The kernel's names (IPython's user namespace), or none (the grader's process)."""
    shell = kernel_shell()
    return shell.user_ns if shell is not None else {}


def _is_scheduler(value) -> bool:
    """A scheduler class or instance, or the module itself, bound under a name of the student's choosing (read off
    its type, never through its own attributes: a student's object may answer anything)."""
    if any(value is _helper(module, name) for module, names in SCHEDULER_HELPERS.items() for name in names):
        return True
    if isinstance(value, ModuleType):
        module = value.__name__
    else:
        module = (value if isinstance(value, type) else type(value)).__dict__.get("__module__")
    return isinstance(module, str) and module.startswith(SCHEDULER_MODULES)


def _helper(module: str, name: str):
    """The course's own function, if its module is loaded (the kernel that bound it has loaded it)."""
    return getattr(sys.modules.get(module), name, None)


def _imported_schedulers(tree: ast.Module) -> set[str]:
    """The names the cell binds to a scheduler or its module by importing it, under any alias (`from
    torch.optim.lr_scheduler import ReduceLROnPlateau as Plateau`, `from torch.optim import lr_scheduler as L`,
    `L = importlib.import_module("torch.optim.lr_scheduler")`), and the course's helpers that run one (`from
    lrcourse.schedules import plateau_run as pr`). A module named by a computed string, or reached
    through `sys.modules` or `getattr`, is not followed."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            modules = [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "torch.optim" else []
            for alias, module in zip(node.names, modules or [node.module] * len(node.names)):
                helper = alias.name in SCHEDULER_HELPERS.get(node.module, ())
                if (module.startswith(SCHEDULER_MODULES) or helper) and alias.name != "*":
                    names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            names.update(a.asname for a in node.names if a.asname and a.name.startswith(SCHEDULER_MODULES))
        elif isinstance(node, ast.Assign) and _imports_a_scheduler_module(node.value):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def _imports_a_scheduler_module(value: ast.expr) -> bool:
    """`importlib.import_module("torch.optim.lr_scheduler")`, `import_module(...)` or `__import__(..., fromlist=...)`
    (which returns the module itself; without `fromlist` it returns `torch`, whose attributes name the scheduler)."""
    if not (isinstance(value, ast.Call) and value.args and isinstance(value.args[0], ast.Constant)):
        return False
    called = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", None)
    module = value.args[0].value
    from_list = called == "__import__" and (len(value.args) > 3 or any(k.arg == "fromlist" for k in value.keywords))
    return isinstance(module, str) and module.startswith(SCHEDULER_MODULES) and (called == "import_module" or from_list)


def schedulers_named(source: str, variable: str, namespace: dict) -> list[str]:
    """The names of PyTorch's schedulers (or of the course's helper that runs one) that `source` reads, as a name or
    an attribute, in the code that runs before it assigns `variable` (`answer_cell_runs`: a function's body only where
    the function is called by then); an import alone is not a use (the grader's stand-in imports freely), but a name
    the cell imports from the schedulers' modules is a scheduler's name. A kernel name is read off its value only
    where the cell does not bind the name itself."""
    try:
        tree = ast.parse(source)
        kernel = names_read_not_bound(source)
    except SyntaxError:
        return []
    names = SCHEDULER_NAMES | _imported_schedulers(tree)
    found = set()
    for node in run_before_the_answer(tree, variable):
        if isinstance(node, ast.Attribute) and node.attr in names:
            found.add(node.attr)
        elif _attribute_named(node) in names:  # getattr(torch.optim, "lr_scheduler")
            found.add(_attribute_named(node))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in names or (node.id in kernel and _is_scheduler(namespace.get(node.id))):
                found.add(node.id)
    return sorted(found)


def _attribute_named(node: ast.AST) -> str | None:
    """The constant name a `getattr(object, "name", ...)` call reads; None for any other node, or a computed name."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"):
        return None
    name = node.args[1] if len(node.args) > 1 else None
    return name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None


def unfollowed(source: str, variable: str) -> list[str]:
    """What the code run before `source` binds `variable` uses that this reading cannot follow: the builtins of
    UNFOLLOWED by name (`operator.attrgetter` and `methodcaller` as attributes too, R23l N3), `global` (a function
    setting the kernel's names) and `getattr` with a computed name."""
    try:
        run = run_before_the_answer(ast.parse(source), variable)
    except SyntaxError:
        return []
    names = {node.id for node in run if isinstance(node, ast.Name) and node.id in UNFOLLOWED}
    names |= {node.attr for node in run if isinstance(node, ast.Attribute) and node.attr in INDIRECT_READS}
    computed = {
        "getattr"
        for node in run
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and _attribute_named(node) is None
    }
    return sorted(names | computed | {"global" for node in run if isinstance(node, ast.Global)})


def expect_no_scheduler_in_answer_cell(variable: str, notebooks=None) -> None:
    """Fail, in the notebook, if the cell that last assigned `variable` uses PyTorch's schedulers before it does, or
    the saved cell does (`notebooks`: `saved_answer.saved_notebooks()`, read there if None)."""
    source = assigning_cell(variable)
    used = schedulers_named(source, variable, _namespace()) if source is not None else []
    expect(
        not used,
        f"The cell that last assigned {variable} uses PyTorch's schedulers ({', '.join(used)}). The answer cell is "
        "graded without torch.optim.lr_scheduler: a scheduler built there stops the cell with an error when it is "
        f"graded, and {variable} scores 0, though it passes here. Replay the log in a separate scratch cell and "
        f"keep only the values of {variable} in the answer cell.",
    )
    expect_no_scheduler_in_saved_answer_cell(variable, notebooks)


def expect_no_scheduler_in_saved_answer_cell(variable: str, notebooks=None) -> None:
    """Fail, in the notebook, if the saved answer cell of `variable` uses PyTorch's schedulers before it binds it, or
    cannot be read (`saved_answer`). Only in a kernel (the learner's, and the grading kernel, whose verdicts are
    withheld): never in the trusted verdicts' process, which decides the grade from what the answer's process does
    (R23h M2)."""
    for cell in saved_answer_cells(variable, notebooks):
        used = schedulers_named(cell.source, variable, _namespace())
        expect(
            not used,
            f"{cell.named(variable)} uses PyTorch's schedulers ({', '.join(used)}) "
            f"before it binds {variable}. That cell is the one graded, without torch.optim.lr_scheduler: the scheduler "
            f"stops it with an error and {variable} scores 0, though a cell run since passes here. Move the replay to "
            f"a separate scratch cell, keep only the values of {variable} in the answer cell, and save the notebook "
            "(if you already have, save again and rerun this cell).",
        )
        if unread := unfollowed(cell.source, variable):  # a pass here cannot vouch for what these run
            print(
                f"Note: the answer cell of {variable} uses {', '.join(unread)} before it binds {variable}, which this "
                "check cannot follow: it cannot tell whether that builds one of PyTorch's schedulers, which the grader "
                f"lacks ({variable} would score 0). Keep the answer cell to the values of {variable}."
            )
