"""An answer cell that finds a scratch cell's name, or a module it imported, by a string or in the kernel's own
namespace fails a visible cell naming the lookup (issue 23, R23q W3, R23r M1): the grader runs the saved answer cells
alone after the chapter's context cells, where that name is not. R23r M1 listed those the first check missed, each
passing every visible cell and scoring 0 in a real grade: `__main__`, `builtins.eval`, IPython's `user_ns`, a frame's
`f_globals`, `sys.modules` and `import_module` under an alias. Read from the cell's text (`hidden_lookups`); honest
answers (`model.eval()`, `vars(obj)`, `getattr` on an object, modules under an alias, the chapters' solutions) pass.
Unit tests on `hidden_lookups`, and one data and one function answer in a real IPython shell."""

from __future__ import annotations

import ast
import sys

import pytest

from lrcourse.checking.hidden_lookups import aliases_in, hidden_lookups, lookups_in
from lrcourse.checking.saved_answer import as_python

from catalogue import step_lr_reading
from support.course import solution_answers
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

RIGHT, CHAPTER = step_lr_reading.RIGHT, step_lr_reading.CHAPTER
DATA = "inferred_step_lr"
FUNCTION = "recipe_from_rates"
R23R_DATA = {  # R23r M1, chapter 2: answer cell -> what the message names; 0 / 3 visible cells failed before
    "__main__.scratch": ("import __main__\n\ninferred_step_lr = __main__.scratch\n", "__main__"),
    "getattr(__main__)": ("import __main__\n\ninferred_step_lr = getattr(__main__, 'scratch')\n", "__main__"),
    "builtins.eval": ("import builtins\n\ninferred_step_lr = builtins.eval('scratch')\n", "builtins.eval"),
    "user_ns": ("inferred_step_lr = get_ipython().user_ns['scratch']\n", "get_ipython().user_ns"),
    "from sys import modules": (
        "from sys import modules\n\ninferred_step_lr = modules['answer_mod'].ANSWER\n",
        "modules (sys.modules)",
    ),
    "import sys as s": ("import sys as s\n\ninferred_step_lr = s.modules['answer_mod'].ANSWER\n", "s.modules (s: sys)"),
    "_getframe().f_globals": (
        "import sys\n\ninferred_step_lr = sys._getframe().f_globals['scratch']\n",
        "sys._getframe().f_globals",
    ),
}
ALIASED_DATA = {  # the other aliases and ways the brief of R23r M1's fix names
    "from sys import modules as m": (
        "from sys import modules as m\n\ninferred_step_lr = m['answer_mod'].ANSWER\n",
        "m (sys.modules)",
    ),
    "import importlib as il": (
        "import importlib as il\n\ninferred_step_lr = il.import_module('answer_mod').ANSWER\n",
        "il.import_module (il: importlib)",
    ),
    "import_module as im": (
        "from importlib import import_module as im\n\ninferred_step_lr = im('answer_mod').ANSWER\n",
        "im (importlib.import_module)",
    ),
    "import builtins as b": ("import builtins as b\n\ninferred_step_lr = b.eval('scratch')\n", "b.eval (b: builtins)"),
    "from builtins import eval as e": (
        "from builtins import eval as e\n\ninferred_step_lr = e('scratch')\n",
        "e (builtins.eval)",
    ),
    "from __main__ import": ("from __main__ import scratch\n\ninferred_step_lr = scratch\n", "__main__"),
    "inspect.currentframe": (
        "import inspect\n\ninferred_step_lr = inspect.currentframe().f_locals['scratch']\n",
        "inspect.currentframe().f_locals",
    ),
    "getattr(s, 'modules')": (
        "import sys as s\n\ninferred_step_lr = getattr(s, 'modules')['answer_mod'].ANSWER\n",
        "getattr(s, 'modules') (s: sys)",
    ),
    "getattr(sys, computed)": (
        "import sys\n\ninferred_step_lr = getattr(sys, 'mod' + 'ules')['answer_mod'].ANSWER\n",
        "getattr(sys, 'mod' + 'ules')",
    ),
    "getattr(obj, 'user_ns')": (
        "inferred_step_lr = getattr(get_ipython(), 'user_ns')['scratch']\n",
        "getattr(get_ipython(), 'user_ns')",
    ),
    "get_ipython().ev": ("inferred_step_lr = get_ipython().ev('scratch')\n", "get_ipython().ev"),
    "__builtins__": ("inferred_step_lr = __builtins__.eval('scratch')\n", "__builtins__"),
    "vars(sys)": ("import sys\n\ninferred_step_lr = vars(sys)['modules']['answer_mod'].ANSWER\n", "vars(sys)"),
    "sys.__dict__": ("import sys\n\ninferred_step_lr = sys.__dict__['modules']['answer_mod'].ANSWER\n", "sys.__dict__"),
    "in a helper called before": (
        "import sys as s\n\ndef found():\n    return s.modules['answer_mod'].ANSWER\n\n\ninferred_step_lr = found()\n",
        "s.modules (s: sys)",
    ),
}
R23R_FUNCTION = {  # R23r M1, chapter 4: a function answer through a module a scratch cell imported
    "import_module as im in the body": (
        "def recipe_from_rates(rates):\n    from importlib import import_module as im\n\n"
        "    return im('answer_mod').recipe_from_rates(rates)\n",
        "im (importlib.import_module)",
    ),
    "import sys as s above the def": (
        "import sys as s\n\n\ndef recipe_from_rates(rates):\n    return s.modules['answer_mod'].recipe_from_rates(rates)\n",
        "s.modules (s: sys)",
    ),
    "import __main__": (
        "import __main__\n\n\ndef recipe_from_rates(rates):\n    return __main__.answer_mod.recipe_from_rates(rates)\n",
        "__main__",
    ),
}
HONEST_DATA = {
    "model.eval()": "import torch\n\nmodel = torch.nn.Linear(1, 1)\nmodel.eval()\n",
    "vars(obj), getattr(obj, name)": "import types\n\nobj = types.SimpleNamespace(a=1)\nprint(vars(obj), getattr(obj, 'a'))\n",
    "modules under an alias": "import math\nimport numpy as np\nimport torch as t\nimport torch.nn as nn\n"
    "from torch.optim import lr_scheduler as ls\n\nprint(math.pi, np.e, t.ones(1), nn.Linear, ls.StepLR)\n",
    "sys and builtins used for what they are": "import builtins\nimport sys\n\nprint(sys.version, builtins.abs(-1))\n",
    "getattr with a computed name on torch (R23j M3)": "import torch\n\n"
    'print(getattr(getattr(torch.optim, "lr_" + "scheduler"), "Step" + "LR"))\n',
    "a lookup after the answer": "",  # ANSWER below, then the lookups
}
AFTER = (
    "import sys as s\nimport __main__\n\nprint(s.modules['math'].pi, __main__.__name__, len(s._getframe().f_globals))\n"
)


@pytest.mark.parametrize("cell, said", [*R23R_DATA.values(), *ALIASED_DATA.values()], ids=[*R23R_DATA, *ALIASED_DATA])
def test_a_lookup_before_the_answer_is_named(cell, said):
    assert said in hidden_lookups(cell, DATA)


@pytest.mark.parametrize("cell, said", R23R_FUNCTION.values(), ids=R23R_FUNCTION)
def test_a_lookup_in_a_function_answer_or_above_it_is_named(cell, said):
    assert said in hidden_lookups(cell, FUNCTION, function=True)


@pytest.mark.parametrize("before", HONEST_DATA.values(), ids=HONEST_DATA)
def test_an_honest_answer_has_no_hidden_lookup(before):
    cell = before + f"\ninferred_step_lr = {RIGHT!r}\n" + ("" if before else AFTER)
    assert hidden_lookups(cell, DATA) == []


def test_a_function_answer_s_self_test_after_its_def_is_no_lookup():
    solved = solution_answers("04_custom_schedules")[FUNCTION]
    cell = "import numpy as np\n\n" + solved + "\n" + AFTER + "print(eval('recipe_from_rates').__name__)\n"
    assert hidden_lookups(as_python(cell), FUNCTION, function=True) == []


@pytest.mark.parametrize(
    "chapter", ["03_adaptive_schedules", "04_custom_schedules", "05_training", "06_choosing_the_rate", "07_practice"]
)
def test_the_chapters_solutions_make_no_hidden_lookup_anywhere(chapter):
    solutions = solution_answers(chapter)
    checked = 0
    for name, source in solutions.items():
        try:
            tree = ast.parse(as_python(source))
        except SyntaxError:  # a written answer's markdown
            continue
        checked += 1
        assert lookups_in([tree], aliases_in(tree)) == [], name
    assert checked > 0


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The learner's folder holding `answer_mod`, first on the import path as a kernel's is."""
    from IPython.core.interactiveshell import InteractiveShell

    (tmp_path / "answer_mod.py").write_text(
        f"ANSWER = {RIGHT!r}\n\n" + solution_answers("04_custom_schedules")[FUNCTION]
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    InteractiveShell.clear_instance()
    sys.modules.pop("answer_mod", None)


def test_a_data_answer_through_sys_under_an_alias_fails_every_visible_cell(folder, monkeypatch):
    """R23r M1: after a scratch cell imported answer_mod, `s.modules[...]` passed 0 / 3 visible cells failed."""
    run, tests = start_reading_kernel(folder, monkeypatch, CHAPTER, "ordered_schedules.ipynb", DATA)
    assert run(f"import answer_mod\n\nscratch = {RIGHT!r}\n", new_cell=True) is None
    cell = R23R_DATA["import sys as s"][0]
    save_answer_cell(folder / "ordered_schedules.ipynb", DATA, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) > 1, said
    assert "uses s.modules (s: sys) before it binds inferred_step_lr: a lookup by a string or in the kernel" in said[0]
    assert "The grader runs the answer cells as saved" in said[0] and "scores 0" in said[0], said[0]


@pytest.mark.parametrize("honest", [False, True])
def test_a_function_answer_through_import_module_under_an_alias_fails(folder, monkeypatch, honest):
    """R23r M1: chapter 4's answer through `im('answer_mod')`, `im` imported in its body, passed every visible cell;
    the solution with `sys` under an alias in a self-test after its `def` passes."""
    solved = solution_answers("04_custom_schedules")[FUNCTION]
    cell = solved + "\n" + AFTER if honest else R23R_FUNCTION["import_module as im in the body"][0]
    run, tests = start_reading_kernel(folder, monkeypatch, "04_custom_schedules", "custom_schedules.ipynb", FUNCTION)
    assert run("import answer_mod", new_cell=True) is None
    save_answer_cell(folder / "custom_schedules.ipynb", FUNCTION, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    if honest:
        assert said == []
    else:
        assert len(said) == len(tests) > 1, said
        assert "uses im (importlib.import_module) in recipe_from_rates's definition or the cell's code" in said[0]


W1_BELOW = {  # R23s W1, chapter 4: a helper defined below the answer's def finds the scratch cell's function, 0 / 3
    "eval in a helper below": (
        "def recipe_from_rates(rates):\n    return _impl(rates)\n\n\ndef _impl(rates):\n"
        "    return eval('scratch_fn')(rates)\n",
        "eval()",
    ),
    "__import__ in a helper below": (
        "def recipe_from_rates(rates):\n    return _impl(rates)\n\n\ndef _impl(rates):\n"
        "    return __import__('answer_mod').recipe_from_rates(rates)\n",
        "__import__()",
    ),
    "a lookup above the def, called there": (
        "def check(expr):\n    return eval(expr)\n\n\nhelper = check('scratch_fn')\n\n\n"
        "def recipe_from_rates(rates):\n    return helper(rates)\n",
        "eval()",
    ),
    "exec above the def": "exec('helper = scratch_fn')\n\n\ndef recipe_from_rates(rates):\n    return helper(rates)\n",
}
W1_BELOW["a name bound below the def by eval"] = (
    "def recipe_from_rates(rates):\n    return helper(rates)\n\n\nhelper = eval('scratch_fn')\n",
    "eval()",
)
W1_BELOW["exec above the def"] = (W1_BELOW["exec above the def"], "exec()")
W4B_ABOVE = {  # R23s W4b: harmless code above the def failed every visible cell; the grader runs it without error
    "print(len(globals())) above": "print(len(globals()))\n\n{solved}",
    "eval in a self-test helper above, called after": "def check(expr):\n    return eval(expr)\n\n{solved}\n"
    "print(check('1+1'))\n",
}
M1_CONSTANT = {  # R23s M1: eval of a constant formula finds nothing; one naming a scratch cell's value still does
    "eval('0.49 ** 0.5')": ("0.49 ** 0.5", True),
    "a name the cell binds": ("half * 2", True),
    "eval in the constant": ('eval("0.7")', True),
    "a scratch cell's name": ("scratch['gamma']", False),
    "a lookup in the constant": ("globals()['scratch']['gamma']", False),
    "eval of a scratch name in the constant": ('eval("scratch")["gamma"]', False),
    "an import in the constant": ("__import__('answer_mod').ANSWER['gamma']", False),
}


@pytest.mark.parametrize("cell, said", W1_BELOW.values(), ids=W1_BELOW)
def test_a_helper_the_function_answer_reaches_is_read_wherever_it_is(cell, said):
    assert said in hidden_lookups(cell, FUNCTION, function=True)


@pytest.mark.parametrize("cell", W4B_ABOVE.values(), ids=W4B_ABOVE)
def test_harmless_code_above_a_function_answer_makes_no_hidden_lookup(cell):
    solved = solution_answers("04_custom_schedules")[FUNCTION]
    assert hidden_lookups(as_python(cell.format(solved=solved)), FUNCTION, function=True) == []


@pytest.mark.parametrize("formula, harmless", M1_CONSTANT.values(), ids=M1_CONSTANT)
def test_eval_of_a_constant_that_finds_nothing_is_no_hidden_lookup(formula, harmless):
    cell = f"half = 0.35\ninferred_step_lr = {{'step_size': 5, 'gamma': eval({formula!r}), 'hand_set_rate': 0.25}}\n"
    for way in ("eval", "exec"):
        found = hidden_lookups(cell.replace("eval(", f"{way}("), DATA)
        assert found == ([] if harmless else [f"{way}()"]), (way, found)


def test_a_function_s_own_locals_is_no_lookup_but_the_cell_s_are():
    """R23s M1: `def pack(**kw): return dict(locals()['kw'])` called before the answer failed every visible cell, graded
    in full: in a function, locals() holds the function's names only."""
    pack = "def pack(**kw):\n    return dict(locals()['kw'])\n\n\n"
    assert hidden_lookups(pack + "inferred_step_lr = pack(step_size=5, gamma=0.7, hand_set_rate=0.25)\n", DATA) == []
    assert hidden_lookups("inferred_step_lr = locals()['scratch']\n", DATA) == ["locals()"]
    inner = "def pack():\n    def inner():\n        return 1\n\n    return inner, locals()\n\n\n"
    assert hidden_lookups(inner + "class A:\n    v = vars()\n\n\ninferred_step_lr = pack()\n", DATA) == []
    default = "def pack(names=locals()):\n    return names['scratch']\n\n\ninferred_step_lr = pack()\n"
    assert hidden_lookups(default, DATA) == ["locals()"]  # a default value runs in the cell's own scope


def test_len_of_globals_is_no_lookup_but_an_item_of_it_is():
    assert hidden_lookups("print(len(globals()), len(locals()))\ninferred_step_lr = 1\n", DATA) == []
    assert hidden_lookups("g = dict(globals())['scratch']\ninferred_step_lr = g\n", DATA) == ["globals()"]
    assert hidden_lookups("def len(x):\n    return x\n\nprint(len(globals()))\ninferred_step_lr = 1\n", DATA) == [
        "globals()"
    ]


@pytest.mark.parametrize("case", ["eval in a helper below", "__import__ in a helper below", *W4B_ABOVE])
def test_a_function_answer_s_helpers_count_wherever_they_are_and_harmless_code_above_passes(folder, monkeypatch, case):
    """R23s W1: a helper below the def finding the scratch cell's function passed every visible cell (graded 0 / 3);
    W4b: harmless code above the def failed every visible cell (graded in full)."""
    solved = solution_answers("04_custom_schedules")[FUNCTION]
    cell = W1_BELOW[case][0] if case in W1_BELOW else W4B_ABOVE[case].format(solved=solved)
    run, tests = start_reading_kernel(folder, monkeypatch, "04_custom_schedules", "custom_schedules.ipynb", FUNCTION)
    scratch = solved.replace("def recipe_from_rates(", "def scratch_fn(")
    assert run(scratch + "\nimport answer_mod\n", new_cell=True) is None
    save_answer_cell(folder / "custom_schedules.ipynb", FUNCTION, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    if case in W4B_ABOVE:
        assert said == []
    else:
        assert len(said) == len(tests) > 1, said
        assert f"uses {W1_BELOW[case][1]} in recipe_from_rates's definition or the cell's code above it" in said[0]
        assert "then scores 0 there" in said[0], said[0]
