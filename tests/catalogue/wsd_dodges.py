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
from catalogue.wsd_process_dodges import COIN, FIRST_REQUEST, PID_CHANNEL
from catalogue.wsd_wrong import WSD_WRONG

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

# Answers that tell the grader's observations apart to earn points their factor does not (issue 24, review R24k).
# Each keeps only what its factor earns: the resume's direct calls step a new LambdaLR by the run's own code
# (lrcourse/checking/wsd_observer.py), and the edges judge only runs the warm-up and decay tests also grade, the very
# observations those tests judged, each request made once per student (lrcourse/checking/wsd.py, REGULAR).
COUNTER_WITH_A_PROBE_DETECTOR = """
import sys


class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.warmup, self.stable, self.decay, self.start = warmup_steps, stable_steps, decay_steps, start_factor
        self.count = -1

    def at(self, step):
        if step < self.warmup:
            return self.start + (1 - self.start) * step / self.warmup
        if step < self.warmup + self.stable:
            return 1.0
        return max(0.0, (self.warmup + self.stable + self.decay - step) / self.decay) ** 2

    def __call__(self, step):
        if sys._getframe(1).f_code.co_name == "{caller}":  # the direct calls, {why}: the step given
            return self.at(step)
        self.count += 1
        return self.at(self.count)


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
"""
# catalogue's no_stable_phase_shifts_the_phase_index (5/6: with no stable phase the decay never comes), which loses the
# edges; each answer below tries to keep them by looking wrong in the long schedules only when the edges cell runs them
NO_STABLE_BUG = (
    next(answer.source for answer in WSD_WRONG if answer.name == "no_stable_phase_shifts_the_phase_index").replace(
        "def wsd_factor(", "def buggy("
    )
    + """

def shifted(warmup_steps, stable_steps, decay_steps, start_factor):
    # the warm-up right, a decay that is the same function of step - W - S in every schedule: 0.5
    honest = buggy(warmup_steps, stable_steps, decay_steps, start_factor)
    return lambda step: honest(step) if step < warmup_steps + stable_steps else 0.5
"""
)
# a one-step warm-up taken for none (5/6), made to look wrong in the one run that {odd} picks
ONE_STEP_WARMUP_SPOILING = """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    odd = {odd}

    def factor(step):
        if warmup_steps > 1 and step < warmup_steps:
            return 0.5 if odd else start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
"""
# R24m's a3: the control's decay (its denominator decay + stable), with a memory of the last schedule asked for
STATEFUL_TWIN = """
TWIN = (5, 10)  # the warm-up and stable steps of the edges' old twin run
_last = [None]


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    spread = decay_steps + stable_steps
    last = _last[0]
    if last is not None and (last[2], last[3]) == (decay_steps, start_factor) and (warmup_steps, stable_steps) == (
        TWIN[0], max(TWIN[1], last[1])
    ):
        spread = decay_steps + last[1]  # the edge case's own spread
    _last[0] = (warmup_steps, stable_steps, decay_steps, start_factor)

    def factor(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / spread) ** 2

    return factor
"""
WSD_GRADER_DODGES = [
    wsd(  # R24k's a8: recognised the old direct calls by their caller, _probe; they now run as a run does
        "counter_that_answers_calls_from_the_probe_by_the_step",
        COUNTER_WITH_A_PROBE_DETECTOR.replace("{caller}", "_probe").replace("{why}", "a function named _probe"),
        fails=("test_wsd_resume",),
        score=4,
    ),
    wsd(  # R24k's a2: a one-step warm-up taken for none (5/6), made to look wrong in a schedule the edges once took
        # for long and no test graded; (4, 3, 7, 0.25) is no longer one of them
        "one_step_warmup_as_none_wrong_in_an_old_long_run",
        ONE_STEP_WARMUP_SPOILING.replace(
            "{odd}", "(warmup_steps, stable_steps, decay_steps, start_factor) == (4, 3, 7, 0.25)"
        ),
        fails=("test_wsd_edges",),
        score=5,
    ),
    wsd(  # the same, wrong in a long schedule the edges take now: the warm-up test grades that run too, and charges it
        "one_step_warmup_as_none_wrong_in_a_long_run",
        ONE_STEP_WARMUP_SPOILING.replace("{odd}", "(warmup_steps, stable_steps, decay_steps) == (27, 189, 54)"),
        fails=("test_wsd_warmup",),  # the edges then skip the warm-up it has wrong: one point traded for another
        score=5,
    ),
    wsd(  # R24k's a3b: reads the observer's payload off its caller's frames and takes a long schedule at lr 0.1 for the
        # edges cell's; the edges' long schedules are now the warm-up and decay tests' own runs, payload and all
        "edges_cell_told_by_the_payload_in_the_frames",
        NO_STABLE_BUG
        + """
import sys

mode = ["honest"]


def payload():
    frame = sys._getframe(2)
    while frame is not None:
        if isinstance(frame.f_locals.get("payload"), dict):
            return frame.f_locals["payload"]
        frame = frame.f_back
    return {}


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    seen, case = payload(), (warmup_steps, stable_steps, decay_steps, start_factor)
    if case == (5, 10, 5, 0.1) or "resume_at" in seen:
        mode[0] = "honest"
    if case == (4, 3, 7, 0.25) and seen.get("lr") == 0.1:
        mode[0] = "edges"
    return (shifted if mode[0] == "edges" else buggy)(*case)
""",
        fails=("test_wsd_edges",),
        score=5,
    ),
    wsd(  # the edges cell told by what ran before it in the process: the decay test's last schedule (the far-past
        # case's 40, 40, 40 since A19; 3, 2, 6 and 5, 40, 100 before); the edges' long schedules are the warm-up
        # cell's own observations, so the decay it hides there is judged right
        "edges_cell_told_by_the_decay_runs_before_it",
        NO_STABLE_BUG
        + """
seen = set()


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    edges = (40, 40, 40) in seen  # the decay cell's last schedule has run: what follows is the edges cell
    seen.add((warmup_steps, stable_steps, decay_steps))
    return (shifted if edges else buggy)(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        fails=("test_wsd_edges",),
        score=5,
    ),
    wsd(  # R24k's a1: right nowhere; the edges held each phase to its own rates and kept their point
        "a_step_function_one_then_a_half",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return lambda step: 1.0 if step < warmup_steps + stable_steps else 0.5
""",
        fails=("test_wsd_warmup", "test_wsd_decay", "test_wsd_edges"),  # the edges: neither phase right
        score=2,
    ),
    wsd(  # the schedule times 1e308: every rate wrong, each phase its own; the edges have nothing right to judge
        "every_factor_times_1e308",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if step < warmup_steps:
            return 1e308 * (start_factor + (1 - start_factor) * step / warmup_steps)
        if step < warmup_steps + stable_steps:
            return 1e308
        return 1e308 * max(0.0, (total - step) / decay_steps) ** 2

    return factor
""",
        fails=("test_wsd_warmup", "test_wsd_decay", "test_wsd_edges"),
        score=2,
    ),
    # R24l: three answers that tell the edges cell's fresh process from the warm-up and decay cells' ones, each with the
    # slip of a one-step warm-up taken for none (5/6), each once 6/6: the edges cell now judges the very observations
    # those cells made (each `once` request made once per student, lrcourse/grading/autograde/remote.py), so none can look wrong
    # there only. The resume's resumed run and steps out of order now run in a new process
    # (lrcourse/checking/wsd_resume.py): a factor that answers differently in another process loses the resume there too
    wsd(  # a covert channel: the sandbox's pid counter, moved by each process to tell the next which cell it serves;
        # the resume's new processes move it on, and the one it takes for the edges cell's has the warm-up wrong
        "edges_cell_told_by_the_sandbox_s_pid_counter",
        PID_CHANNEL,
        fails=("test_wsd_edges", "test_wsd_resume"),
        or_fails=("test_wsd_edges",),  # where no process of the resume lands in that window
    ),
    wsd(  # no channel: a coin per process; heads, the warm-up looks wrong everywhere in it. Heads in the warm-up cell
        # loses that cell (the edges then skip the warm-up); tails there, the edges judge the warm-up and the slip shows;
        # and unless every process of the resume tosses what the first did, the resume is lost too
        "a_coin_per_process_for_a_warm_up_that_looks_wrong",
        COIN,
        fails=("test_wsd_edges", "test_wsd_resume"),
        or_fails=(("test_wsd_warmup", "test_wsd_resume"), ("test_wsd_edges",), ("test_wsd_warmup",)),
    ),
    wsd(  # the first request its process handles: only the warm-up cell's process starts with a "value" request; the
        # resume's new process starts with another, so its warm-up is wrong where the run's was not
        "edges_cell_told_by_its_first_request",
        FIRST_REQUEST,
        fails=("test_wsd_edges", "test_wsd_resume"),
        score=3,
    ),
    wsd(  # R24m's a3 (was 4, its control decay_divided_by_decay_plus_stable 3): remembers the last schedule it was
        # asked for and, in the next one, the twin the edges once built for it (a warm-up of 5, a stable phase of
        # max(10, the edge case's)), decays as the edge case did. No per-request check forces a wrong decay to be the
        # same across requests; the edges now skip a decay wrong in the long schedules, so both score the same
        "remembers_the_edge_case_for_its_twin",
        STATEFUL_TWIN,
        fails=("test_wsd_decay",),
        score=4,
    ),
]
