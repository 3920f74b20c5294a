"""Chapter 7's `wsd_factor` read off PyTorch's own SequentialLR instead of computed: the plain way, and the five ways
that escaped the profile hook chapter 7's answer process once relied on (issue 24's attacker review): a thread (the
hook is per thread), `sys.setprofile(None)`, calls routed through torch's own code (callers inside torch were
exempt), exec of a copy of lr_scheduler's source (another file name), and a patched checker. Where PyTorch's
schedulers exist each table is the schedule, every step (tests/test_wsd_checks.py checks that): the answer process
`lrcourse grade` runs has none (`no_lr_scheduler`, module and file), so each must lose every test cell. The
controls build the same table by hand from the phases' formulas, the same ways (in a thread, the profiler off): they
keep full marks, so what costs the dodges their marks is PyTorch's schedulers, nothing else they do."""

from __future__ import annotations

from catalogue.answers import ALL
from catalogue.wsd import wsd

# PyTorch's SequentialLR of the exercise, dry-run at rate 1: the factor of every step and of one step past the end.
# `schedulers` is where LinearLR and the rest come from; `call` is how each is called (directly, by default).
SEQUENTIAL_TABLE = """
def sequential_table(schedulers, warmup_steps, stable_steps, decay_steps, start_factor,
                     call=lambda f, *a, **k: f(*a, **k)):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    phases = [call(schedulers.LinearLR, optimizer, start_factor=start_factor, total_iters=warmup_steps)]
    if stable_steps:
        phases.append(call(schedulers.ConstantLR, optimizer, factor=1.0, total_iters=stable_steps))
    phases.append(call(schedulers.PolynomialLR, optimizer, total_iters=decay_steps, power=2.0))
    milestones = [warmup_steps, warmup_steps + stable_steps][:len(phases) - 1]
    schedule = call(schedulers.SequentialLR, optimizer, phases, milestones=milestones)
    table = []
    for _ in range(warmup_steps + stable_steps + decay_steps + 1):
        table.append(optimizer.param_groups[0]["lr"])
        call(optimizer.step)
        call(schedule.step)
    return table
"""


def table_answer(name: str, before: str, table: str, inside: str = "", helpers=SEQUENTIAL_TABLE) -> tuple[str, str]:
    """(name, source) of an answer that reads its factor off `table` (an expression); `before` runs at the top of
    the cell, then `helpers` are defined; `inside` runs at the top of wsd_factor."""
    source = f"""{before}
{helpers}

def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
{inside}    table = {table}
    return lambda step: table[min(step, len(table) - 1)]
"""
    return name, source


ARGUMENTS = "warmup_steps, stable_steps, decay_steps, start_factor"
THREAD = """import threading


def in_a_thread(function, *args):
    found = []
    reader = threading.Thread(target=lambda: found.append(function(*args)))
    reader.start()
    reader.join()
    return found[0]
"""
DODGES = [
    table_answer(  # the hook is set in the thread that calls the factory; a thread of its own has none
        "table_read_in_a_thread", THREAD, f"in_a_thread(sequential_table, lr_scheduler, {ARGUMENTS})"
    ),
    table_answer(  # the hook switched off from inside the factory
        "table_read_with_the_profiler_off",
        "import sys\n",
        f"sequential_table(lr_scheduler, {ARGUMENTS})",
        inside="    sys.setprofile(None)\n",
    ),
    table_answer(  # every scheduler call made from torch's own frames (no_grad's wrappers), whose callers were exempt
        "table_read_through_torch_s_own_code",
        "",
        f"sequential_table(lr_scheduler, {ARGUMENTS}, call=lambda f, *a, **k: torch.no_grad()(f)(*a, **k))",
    ),
    table_answer(  # lr_scheduler's own source run under another file name, which the hook did not watch
        "table_read_off_a_copy_of_lr_scheduler",
        "import os\nimport types\n\n\ndef copied_schedulers():\n"
        '    path = os.path.join(os.path.dirname(torch.optim.__file__), "lr_scheduler.py")\n'
        '    scope = {"__name__": "torch.optim.copied_lr_scheduler", "__package__": "torch.optim"}\n'
        "    with open(path) as source:\n"
        '        exec(compile(source.read(), "copied_lr_scheduler.py", "exec"), scope)\n'
        "    return types.SimpleNamespace(**scope)\n",
        f"sequential_table(copied_schedulers(), {ARGUMENTS})",
    ),
    table_answer(  # the checker's hook replaced, in the process that runs the answer
        "table_read_with_the_checker_patched",
        "import lrcourse.checking.wsd\n\nlrcourse.checking.wsd.SchedulerUse.profile = lambda self, *args: None\n",
        f"sequential_table(lr_scheduler, {ARGUMENTS})",
    ),
]

# The same table from the phases' formulas: LinearLR's warm-up from start_factor to the peak at step W, the peak,
# PolynomialLR's decay (power 2) from the peak to 0 at the end, then 0.
HAND_TABLE = """
def hand_table(warmup_steps, stable_steps, decay_steps, start_factor):
    table = [start_factor + (1 - start_factor) * step / warmup_steps for step in range(warmup_steps)]
    table += [1.0] * stable_steps
    return table + [(1 - step / decay_steps) ** 2 for step in range(decay_steps)] + [0.0]
"""
WSD_CONTROLS = [
    wsd(*table_answer("table_computed_by_hand", "", f"hand_table({ARGUMENTS})", helpers=HAND_TABLE)),
    wsd(
        *table_answer(
            "hand_table_in_a_thread_profiler_off",
            f"import sys\n{THREAD}",
            f"in_a_thread(hand_table, {ARGUMENTS})",
            inside="    sys.setprofile(None)\n",
            helpers=HAND_TABLE,
        )
    ),
]

WSD_FORBIDDEN = [
    wsd(
        "table_from_sequential_lr",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    phases = [lr_scheduler.LinearLR(optimizer, start_factor=start_factor, total_iters=warmup_steps),
              lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=stable_steps),
              lr_scheduler.PolynomialLR(optimizer, total_iters=decay_steps, power=2.0)]
    schedule = lr_scheduler.SequentialLR(optimizer, phases, milestones=[warmup_steps, warmup_steps + stable_steps])
    table = []
    for _ in range(warmup_steps + stable_steps + decay_steps + 1):
        table.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return lambda step: table[min(step, len(table) - 1)]
""",
        fails=ALL,
    ),
    *(wsd(name, source, fails=ALL) for name, source in DODGES),
]
