"""The answer cell must stand on what the grader runs: the chapter's context cells, then the answer cells in order.

In the notebook a student's answer can lean on a name some earlier exploratory cell defined, pass there,
and fail under `lrcourse grade`. `expect_self_contained` catches that in the kernel, with the reason, for a function or
a class (its cell: where its functions' code came from, else the input that last bound its name, `kernel_history`;
that input must be the answer cell as saved, R23s W2, W3); `expect_data_self_contained` for a name bound to plain data (its cell is the
latest input in IPython's history that assigns it, and the answer cell as saved, the one graded: `saved_answer`).
For both, what the saved answer cells above the answer's bind counts, as in the grader's one process (R23j M2, R23l
M2).
Both refuse an answer cell whose IPython magic changes what the grader gets (`grade_changing_magics`): the grader
runs the cell with a `get_ipython()` whose every magic does nothing, so `%%time` over the answer defines nothing
there, while `%load_ext` above it costs nothing. Both refuse an answer cell that imports a module of the learner's folder
or reads a file of it before its answer is bound (`learners_folder`): the grader has the notebook alone (R23o W3);
and one that looks a name or module up by a string or in the kernel's namespace there (`hidden_lookups`: `eval`,
`globals()`, `sys.modules`, `__main__`, a frame's `f_globals`, IPython's `user_ns`, also under the cell's import
aliases; not through a value it cannot follow, such as `s = sys`; R23q W3, R23r M1).
"""

from __future__ import annotations

import ast
import builtins
import linecache
import symtable

from lrcourse import cells
from lrcourse.checking.answer_cell_error import raised_before_the_answer
from lrcourse.checking.answer_cell_runs import run_before_the_answer
from lrcourse.checking.answer_globals import expect_globals_from_saved_cells
from lrcourse.checking.answer_replay import changed_in_place, reads_before_assigning, same_as_sent, value_alone
from lrcourse.checking.expect import expect
from lrcourse.checking.hidden_lookups import expect_no_hidden_lookup
from lrcourse.checking.kernel_history import assigning_entry, defined_answer, history_cell, same_cell
from lrcourse.checking.learners_folder import (
    expect_no_file_of_the_folder,
    expect_no_file_read_by,
    expect_no_local_module,
    unwrapped,
)
from lrcourse.checking.saved_answer import (
    SAVE_AND_RERUN,
    as_python,
    assigns,
    expect_no_magic,
    graded_cell,
    kernel_shell,
    saved_answer_cells,
    saved_in_kernel,
    saved_notebooks,
)


def cell_source(target) -> str | None:
    """The source of the notebook cell that defined `target` (IPython keeps each cell's text in linecache); a function
    under a decorator that keeps `__wrapped__` (`@torch.no_grad()`, `functools.wraps`) is read as the function it wraps
    (R23t W3: torch's wrapper's file was read, not the cell)."""
    if callable(target) and hasattr(unwrapped(target), "__code__"):
        functions = [unwrapped(target)]
    elif isinstance(target, type):
        functions = [unwrapped(value) for value in vars(target).values()]
        functions = [value for value in functions if hasattr(value, "__code__")]
    else:
        functions = []
    for function in functions:
        lines = linecache.getlines(function.__code__.co_filename)
        if lines:
            return "".join(lines)
    return None


def names_read_not_bound(source: str) -> set[str]:
    """The names the cell reads from outside it: read at its top level, or as a global in a function, and not bound at
    its top level (a parameter or a local named `scheduler` is the cell's own). A global that only a function of the
    cell assigns is read from outside: that function may not have run by then. Builtins included: the kernel may have
    rebound one. The scheduler check reads these names' kernel values, the self-contained check wants them defined."""
    free, bound = set(), set()
    tables = [symtable.symtable(source, "<answer cell>", "exec")]
    while tables:
        table = tables.pop()
        tables.extend(table.get_children())
        top = table.get_type() == "module"
        for symbol in table.get_symbols():
            if top and (symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace()):
                bound.add(symbol.get_name())
            elif symbol.is_referenced() and (top or symbol.is_global()):
                free.add(symbol.get_name())
    return free - bound


def names_used_but_not_defined(source: str) -> set[str]:
    """Global names the cell reads without binding them itself, builtins aside."""
    return names_read_not_bound(source) - set(dir(builtins))


def context_names(notebooks=None) -> set[str] | None:
    """The names the chapter's context cells bind, from the notebook saved in the kernel's folder (`notebooks`, from
    `saved_answer.saved_notebooks`, read here if None)."""
    for _, notebook_cells in (notebooks if notebooks is not None else saved_notebooks())[0]:
        sources = [cells.source(cell) for cell in notebook_cells if cells.is_context(cell)]
        if sources:
            return set().union(*(cells.bound_names(source) for source in sources))
    return None


def expect_self_contained(target, grade_id: str = "") -> None:
    """In the notebook: fail if the answer cell that defined `target` reads a name that neither it, the chapter's
    context cells nor the saved answer cells above the one that defines it bind. The grader runs the answer cells in
    order, in one process, after the context cells (R23l M2: a helper defined in the answer cell above passed there
    and was refused here), so such an answer would pass here and fail there. `grade_id`: the answer cell's, where the
    caller knows it (`saved_answer.saved_notebooks`: a folder named after another chapter then misleads no check).
    The cell is the one its functions' code came from (linecache), else, for a class with no function of its own or
    an answer bound under another name, the kernel's input that last bound the answer's name
    (`kernel_history.defined_answer`; R23s W2: `class MyReduceLROnPlateau(ScratchBase): pass` and
    `MyReduceLROnPlateau = ScratchBase`, whose functions are the scratch cell's, passed), and that input must be the
    saved answer cell (R23s W3: the answer run in a cell below the released stub passed here and scored 0), which is
    checked itself too, and must be the cell the code came from (R23t W1, W2: `lr_range_test = lr_range_test`)."""
    notebooks = saved_in_kernel(grade_id)
    name, saved = defined_answer(target, grade_id, notebooks)
    source, found, cell = cell_source(target), assigning_entry(name), ""
    if found is not None and (source is None or name != getattr(target, "__name__", name)):
        source, cell = found[1][found[0]], history_cell(name, found[0])  # a cell magic's body is in no linecache
    if source is None:
        return
    expect_no_magic(source, name, cell)
    expect_no_local_module(source, name, cell)  # the grader has no module or file of the learner's folder (R23o W3)
    expect_no_file_read_by(target, name, source)
    expect_no_hidden_lookup(source, name, cell or f"The cell that defines {name}", function=True)  # R23q W3
    context = context_names(notebooks)
    for each in saved:
        expect_saved_cell_ran(each, name, errors=False)  # R23s W3: the answer run below the stub as saved
    try:
        above = context | answer_cells_above(name, notebooks) if context is not None else None
        missing = sorted(names_used_but_not_defined(source) - above) if above is not None else []
    except SyntaxError:
        missing = []
    via = cells.global_assigned(source) & set(missing)  # R23u N3: bound in a function, through `global`
    which = "that cell binds only in a function, through `global`, and no" if via else "neither that cell nor a"
    expect(
        not missing,
        f"{cell or f'The cell that defines {name}'} uses {', '.join(missing)}, which {which} saved "
        "answer cell above it defines. The grader runs the answer cells as saved, in order, after the chapter's setup "
        f"and context cells, and no other cell: define or import {'it' if len(missing) == 1 else 'them'} inside the "
        f"answer cell (or an answer cell above it), define {name} there, and save the notebook.",
    )
    for each in saved:
        _expect_saved_function_cell(each, name, context)  # R23t W1, W2: the cell graded, whatever ran
    if not cell:
        _expect_code_from_its_saved_cell(source, name, saved)  # R23t W1: a scratch cell's function under `if`
    expect_globals_from_saved_cells(target, name, saved, notebooks)  # R23t W4: a helper of the cell defined again since


def _expect_saved_function_cell(cell, name: str, context: set[str] | None) -> None:
    """The checks a data answer's saved cell gets (`expect_saved_cell_self_contained`), on the saved answer cell that
    defines the function or class `name`: its modules of the folder, its hidden lookups, the names it reads that
    neither it nor what runs before it binds, and `name` itself read before the cell binds it (R23t W1, W2: `lr_range_test = lr_range_test` after a scratch cell
    defined it, and `from mywork import lr_range_test`, passed every visible cell, read in the cell its code came
    from, and scored 0)."""
    expect_no_local_module(cell.source, name, cell.named(name))
    expect_no_hidden_lookup(cell.source, name, cell.named(name), function=True)
    try:
        missing = {name} if _reads_itself_first(cell.source, name) else set()
        if context is not None:  # all of the cell, as for the cell its code came from: a self-test after it included
            missing |= names_used_but_not_defined(cell.source) - context - cell.earlier - {"get_ipython"}
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # the cell's run says why
        return
    expect(
        not missing,
        f"{cell.named(name)} uses {', '.join(sorted(missing))}, which neither that cell nor a saved answer cell above "
        f"it defines, before it defines {name}. The grader runs the answer cells as saved, in order, after the "
        f"chapter's setup and context cells, and no other cell: there it stops with a NameError and the checks that "
        f"call {name} score 0, though a cell run since passes here. Define {name} in the answer cell itself, then "
        f"{SAVE_AND_RERUN}.",
    )


def _reads_itself_first(source: str, name: str) -> bool:
    """The cell reads `name` at its top level before it binds it (`answer_replay.reads_before_assigning`), a `def`
    or `class` of that name binding it (R23t W1: `lr_range_test = lr_range_test`; a self-test after the `def` reads
    the cell's own function)."""
    tree = ast.parse(source)
    defining = [index for index, node in enumerate(tree.body) if getattr(node, "name", None) == name]
    head = tree.body[: defining[0]] if defining else tree.body
    return reads_before_assigning(ast.unparse(ast.Module(body=head, type_ignores=[])), name)


def _expect_code_from_its_saved_cell(source: str, name: str, saved: list) -> None:
    """Fail if the cell the code of `name` came from (`source`, by linecache) is neither its saved answer cell nor
    an answer cell above it (R23t W1: `if 'lr_range_test' not in dir(): def lr_range_test(...)` kept a scratch cell's
    function, which the grader never defines)."""
    texts = [each.source for each in saved] + [text for each in saved for _, text in each.above]
    if not saved or any(same_cell(source, text) for text in texts):
        return
    expect(
        False,
        f"The {name} in this kernel was defined by a cell that is not the {saved[0].named(name)[4:]} (a scratch cell, or "
        f"a file), and the answer cell kept it. The grader runs the answer cells as saved and no other cell: define "
        f"{name} in the answer cell itself, run it, then {SAVE_AND_RERUN}.",
    )


def answer_cells_above(name: str, notebooks) -> set[str]:
    """The names the saved answer cells above the last one that binds `name` (a `def` or a `class` binds) bind, in
    each saved notebook (`notebooks`, from `saved_answer.saved_notebooks`)."""
    names = set()
    for _, notebook_cells in notebooks[0]:
        answers = []
        for cell in notebook_cells:
            try:
                if cells.is_answer(cell):
                    answers.append(as_python(cells.source(cell)))
            except (ValueError, KeyError, TypeError, AttributeError):  # a cell that is no cell is skipped
                continue
        giving = [index for index, text in enumerate(answers) if assigns(text, name)]
        for text in answers[: giving[-1]] if giving else []:
            names |= cells.bound_names(text)
    return names


def expect_data_self_contained(variable: str, notebooks=None) -> None:
    """In the notebook: fail if the cell that last assigned the plain-data answer `variable` reads a name that
    neither it nor the chapter's context cells define before the answer is bound (R23p: `ratios[5]` from a scratch
    cell passed here and scored 0 in the grade, NameError in the answer cell run alone; after the answer, as in a
    replay through the chapter's helper, it costs nothing, R23g M1), or if a later cell changed the value that cell gave
    (`expect_unchanged_since_its_cell`); then the same of the answer cell as saved, the one graded, and that it is the
    cell that ran (`expect_saved_cell_self_contained`). What the answer cells before the saved one bind counts as
    defined: the grader runs them first, in the same process (R23j M2). `notebooks`: `saved_answer.saved_notebooks()`,
    read here if None (once per check, R23j N3)."""
    notebooks = notebooks if notebooks is not None else saved_in_kernel(variable)
    found = assigning_entry(variable)
    if found is not None:
        _expect_history_cell_self_contained(variable, *found, notebooks)
    expect_saved_cell_self_contained(variable, notebooks)


def _answer_cells_before(variable: str, notebooks) -> set[str]:
    """The names the saved answer cells before the one that gives `variable` bind, without failing (the saved
    cell's checks come after the history's)."""
    names = set()
    for path, notebook_cells in notebooks[0]:
        for cell in graded_cell(notebook_cells, variable, path):
            names |= cell.earlier
    return names


def _expect_history_cell_self_contained(variable: str, index: int, history: list, notebooks) -> None:
    source = history[index]
    expect_no_magic(source, variable, history_cell(variable, index))
    expect_no_local_module(source, variable, history_cell(variable, index))  # R23o W3: the grader has neither
    expect_no_file_of_the_folder(variable, index, source, history_cell(variable, index))
    expect_no_hidden_lookup(source, variable, history_cell(variable, index))  # R23q W3: found by a string
    context = context_names(notebooks)
    if context is None:
        return
    context = context | _answer_cells_before(variable, notebooks)
    try:  # a magic was refused just above: every name read here is the cell's own code's
        missing = sorted(_read_before_the_answer(source, variable, names_used_but_not_defined(source) - context))
    except SyntaxError:
        return
    expect(
        not missing,
        f"The cell that last assigned {variable} uses {', '.join(missing)}, which that cell does not define, before "
        f"it binds {variable}. The grader runs only the answer cells, in order, after the chapter's setup and context "
        f"cells (a scratch cell below it that assigns {variable} again is not run): compute {variable} inside the "
        "answer cell from what that cell and the setup define, or write its values there.",
    )
    later = [entry for entry in history[index + 1 :] if isinstance(entry, str)]
    expect_unchanged_since_its_cell(variable, source, later, context)


def expect_saved_cell_self_contained(variable: str, notebooks=None) -> None:
    """Fail if the saved answer cell of `variable` (`saved_answer`: the cell graded) reads, before it binds `variable`,
    a name that neither it, the chapter's context cells nor the answer cells before it define (R23h: a scratch cell's
    name in the saved answer cell, the answer retyped in a cell below it, passed here and scored 0), or cannot be read;
    then if it is not the cell that last assigned `variable` in this kernel (`expect_saved_cell_ran`). `get_ipython`
    is no such name: the grader's process defines it (a magic line there does nothing)."""
    notebooks = notebooks if notebooks is not None else saved_in_kernel(variable)
    saved = saved_answer_cells(variable, notebooks)
    context = context_names(notebooks)
    for cell in saved:
        expect_no_local_module(cell.source, variable, cell.named(variable))
        expect_no_hidden_lookup(cell.source, variable, cell.named(variable))
    for cell in saved if context is not None else []:
        names = names_used_but_not_defined(cell.source) - context - cell.earlier - {"get_ipython"}
        missing = sorted(_read_before_the_answer(cell.source, variable, names))
        expect(
            not missing,
            f"{cell.named(variable)} uses {', '.join(missing)}, which neither that cell nor an answer cell above it "
            f"defines, before it binds {variable}. The grader runs the answer cells as saved, in order, after the "
            f"chapter's setup and context cells, and no other cell: there it stops with a NameError and {variable} "
            f"scores 0, though a cell run since passes here. Compute {variable} inside the answer cell from what that "
            "cell and the setup define, or write its values there; then save the notebook and run this cell again.",
        )
    for cell in saved:
        expect_saved_cell_ran(cell, variable)
    for cell in saved if context is not None else []:
        names = names_used_but_not_defined(cell.source) - context
        for name in sorted(_read_before_the_answer(cell.source, variable, names & cell.earlier)):
            _expect_read_from_its_saved_cell(cell, variable, name)


def _expect_read_from_its_saved_cell(cell, variable: str, name: str) -> None:
    """Fail unless the kernel's `name`, which the saved answer cell of `variable` reads from an answer cell above it
    (the grader's value), came from that cell as saved: the cell that last assigned it here, its run whole (R23l M3:
    `STEP = 4` saved in the prediction's cell, then edited to `STEP = 5` and run unsaved, or `STEP = 5` run in a
    scratch cell, passed every visible cell, and step_size scored 0)."""
    above = cell.binding_above(name)
    if above is None:
        return
    grade_id, text = above
    found = assigning_entry(name)
    ran = found[1][found[0]] if found is not None else None
    whole = ran is not None and same_cell(ran, text)
    if whole:
        whole = raised_before_the_answer(kernel_shell(), found[0], ran, name) is None
    which = f"the answer cell of {grade_id}" if grade_id else "an answer cell above it"
    expect(
        whole,
        f"{cell.named(variable)} reads {name}, which {which} binds, and the {name} in this kernel is not from that "
        f"cell as saved (it was edited since it ran, or not yet saved, or stopped with an error, or {name} was "
        f"assigned in another cell since), so what this check reads is not what the grader gives {variable}. Run "
        f"{which}, then {SAVE_AND_RERUN}.",
    )


def expect_saved_cell_ran(cell, variable: str, errors: bool = True) -> None:
    """Fail unless the saved cell that gives `variable` (`saved_answer.SavedCell`) is, as text, the cell that last
    assigned it in this kernel (IPython's history): else the value checked here is another cell's, not the graded
    cell's (R23j M1: a draft saved in the answer cell and the answer run in a cell below, or the answer cell edited,
    run and not saved, passed here and scored 0), or if that cell's last run stopped with an error before its answer
    was whole (`answer_cell_error`: the value here is then an earlier cell's; not where `errors` is False: a `def`
    binds by no assignment, so that reading counts a self-test's error after it as before it)."""
    found = assigning_entry(variable)
    ran = found[1][found[0]] if found is not None else None
    expect(
        ran is not None and same_cell(ran, cell.source),
        f"{cell.named(variable)} is not the cell that last assigned {variable} in this kernel (it was edited since it "
        f"ran, or not yet saved, or {variable} was assigned in another cell since), so what this check reads is not "
        f"what the grader gets from that cell. Run the answer cell, then {SAVE_AND_RERUN}.",
    )
    error = raised_before_the_answer(kernel_shell(), found[0], ran, variable) if errors else None
    expect(
        error is None,
        f"{cell.named(variable)} stopped with {type(error).__name__} when it last ran here, before {variable} was "
        f"whole, so the {variable} this check reads is an earlier cell's, not what that cell gives. Correct the answer "
        f"cell and run it without an error, then {SAVE_AND_RERUN}.",
    )


def _read_before_the_answer(source: str, variable: str, names: set[str]) -> set[str]:
    """Those of `names` the cell reads in the code that runs before `variable` is whole (`answer_cell_runs`): a name
    the grader lacks raises NameError there, after the answer is bound it costs the answer nothing (R23g M1: a replay
    through the chapter's `bench` after the answer was refused, though graded whole)."""
    run = run_before_the_answer(ast.parse(source), variable)
    read = {node.id for node in run if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return names & read


def expect_unchanged_since_its_cell(variable: str, source: str, later: list[str], context: set[str]) -> None:
    """Fail if `variable` is not what its cell `source` gives run alone, as the grader runs the answer cell (issue 23,
    R23s: `answer.append(...)` in a scratch cell below passed here, judged on the changed value, and the grade judged
    the cell's own). The cell that reads the name before assigning it (`answer += [4]`) took an earlier cell's value;
    a plain cell is run again on its own and the values compared (`answer_replay.value_alone`); any other cell's
    later cells are read for a change in place (`later`, the kernel's inputs since)."""
    shell = kernel_shell()
    namespace = shell.user_ns if shell is not None else {}
    if variable not in namespace or variable in context:
        return
    why = (
        f"The grader runs only the answer cells, not the notebook's other cells: there {variable} is what its answer "
        f"cell gives. Put the final value of {variable} in the answer cell and run it again."
    )
    expect(
        not reads_before_assigning(source, variable),
        f"The cell that last assigned {variable} reads {variable} before assigning it, so it changes the value an "
        f"earlier cell gave. {why}",
    )
    try:
        reads = names_used_but_not_defined(source) & context
    except SyntaxError:
        return
    ran, alone = value_alone(source, variable, {name: namespace[name] for name in reads if name in namespace})
    if ran:
        same = same_as_sent(alone, namespace[variable])
        read = (
            f", or changed what its cell reads ({', '.join(sorted(reads))}: the grader reads the chapter's own)"
            if reads
            else ""
        )
        again = " If you changed the chapter's values, run the notebook again from the top." if reads else ""
        expect(
            same is not False,
            f"A later cell changed {variable} in place{read} since its cell assigned it. {why}{again}",
        )
        return
    expect(
        not changed_in_place(later, variable),
        f"A later cell changed {variable} in place (a method such as append or update called on it, or an item of it "
        f"assigned or deleted) since its cell assigned it. {why}",
    )
