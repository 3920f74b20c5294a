"""Chapters 1 and 4, and the prediction of chapter 3 (those of chapters 1, 2 and 4 are not graded)."""

from __future__ import annotations

from catalogue.answers import ALL, Answer, variant


# --------------------------------------------------------------------------------------------
# Chapters 1 and 4, and chapter 3's prediction
# --------------------------------------------------------------------------------------------
def ch1(name, cell, source, fails=()):
    return Answer(name, "01_learning_rate", cell, source, fails)


def ch4(name, cell, source, fails=()):
    return Answer(name, "04_custom_schedules", cell, source, fails)


# R23P1 M2: the path is a run of SGD(lr, momentum=mu), mu unknown; the first step has no momentum (the buffer starts
# as the first gradient), so it gives each curvature, and the second step gives mu
LARGEST_REFERENCE = """
def largest_stable_lr(lr, path):
    curvatures, momenta = [], []
    for w0, w1, w2 in zip(*(np.asarray(path[t], dtype=float) for t in range(3))):
        if w0 == 0:
            continue
        factor = w1 / w0
        curvatures.append((1 - factor) / lr)
        momenta.append((w2 - factor * w1) / (w1 - w0))
    momentum = float(np.median(momenta))
    return 2.0 * (1 + momentum) / max(curvatures)
"""

LARGEST_PLAIN = """
def largest_stable_lr(lr, path):
    factors = [after / before for before, after in zip(path[0], path[1])]
    curvatures = [(1 - r) / lr for r in factors]
    return 2.0 / max(curvatures)
"""

FLOOR_REFERENCE = """
def rate_for_noise_floor(target, lr, losses):
    f0, f1, f2 = (float(f) for f in losses[:3])
    c = (f2 - f1) / (f1 - f0)
    curvature = (1 - c ** 0.5) / lr
    noise_squared = 2 * (f1 - c * f0) / (curvature * lr ** 2)
    return 4 * target / (noise_squared + 2 * curvature * target)
"""

RECIPE_REFERENCE = """
def recipe_from_rates(rates):
    rates = [float(rate) for rate in rates]
    rise = rates[1] - rates[0]
    warmup = 1
    while math.isclose(rates[warmup + 1] - rates[warmup], rise, rel_tol=1e-6, abs_tol=1e-12 * abs(rates[0])):
        warmup += 1
    lr = rates[warmup]
    step_size = 1
    while math.isclose(rates[warmup + step_size], lr, rel_tol=1e-9):
        step_size += 1
    return {"lr": lr, "warmup_epochs": warmup, "start_factor": rates[0] / lr, "step_size": step_size,
            "gamma": rates[warmup + step_size] / lr}
"""


def largest_variant(old: str, new: str) -> str:
    return variant(LARGEST_REFERENCE, old, new)


def floor_variant(old: str, new: str) -> str:
    return variant(FLOOR_REFERENCE, old, new)


def recipe_variant(*replacements: str) -> str:
    return variant(RECIPE_REFERENCE, *replacements)


EARLY_CORRECT = [
    ch1("largest_from_factors", "largest_stable_lr", LARGEST_REFERENCE),
    ch1(
        "largest_momentum_from_the_first_coordinate",
        "largest_stable_lr",
        """
def largest_stable_lr(lr, path):
    # the first step: w1 = (1 - lr a) w0; the second: w2 = (1 + mu - lr a) w1 - mu w0, so mu from one coordinate
    x0, x1, x2 = path[0][0], path[1][0], path[2][0]
    mu = (x2 - (x1 / x0) * x1) / (x1 - x0)
    steepest = max((w0 - w1) / (lr * w0) for w0, w1 in zip(path[0], path[1]))
    return 2 * (1 + mu) / steepest
""",
    ),
    ch1(
        "largest_numpy",
        "largest_stable_lr",
        """
def largest_stable_lr(lr, path):
    w0, w1, w2 = (np.asarray(path[t], dtype=float) for t in range(3))
    curvatures = (w0 - w1) / (lr * w0)
    momenta = (w2 - (1 - lr * curvatures) * w1) / (w1 - w0)
    return float(2 * (1 + momenta.mean()) / curvatures.max())
""",
    ),
    # R23t item 3: a numpy float is a number to the form check, as to the grader
    ch1(
        "largest_numpy_float",
        "largest_stable_lr",
        largest_variant(
            "    return 2.0 * (1 + momentum) / max(curvatures)",
            "    return np.float64(2.0) * (1 + momentum) / max(curvatures)",
        ),
    ),
    # R23w W4: the path read in float32 (lrcourse/tolerances.py BOUND_RTOL)
    ch1("largest_float32", "largest_stable_lr", largest_variant("dtype=float)", "dtype=np.float32)")),
    ch1("floor_read_off_three_losses", "rate_for_noise_floor", FLOOR_REFERENCE),
    # read where the run nears its floor: the differences cancel, the rate 2.5e-8 off (within FLOOR_RTOL)
    ch1("floor_read_off_the_last_three_losses", "rate_for_noise_floor", floor_variant("losses[:3]", "losses[-3:]")),
    ch1(
        "floor_fit_and_bisection",
        "rate_for_noise_floor",
        """
def rate_for_noise_floor(target, lr, losses):
    f = np.asarray(losses, dtype=float)
    c, d = np.polyfit(f[:-1], f[1:], 1)          # f_{t+1} = c f_t + d over the whole run
    a = (1 - np.sqrt(c)) / lr
    s = np.sqrt(2 * d / (a * lr ** 2))
    low, high = 0.0, 2.0 / a
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if problems.noise_floor(middle, a, s) <= target else (low, middle)
    return float(low)
""",
    ),
    ch4("recipe_reference", "recipe_from_rates", RECIPE_REFERENCE),
    ch4(
        "recipe_by_second_differences",
        "recipe_from_rates",
        """
def recipe_from_rates(rates):
    r = np.asarray(rates, dtype=float)
    bend = np.abs(np.diff(r, 2)) > 1e-9 * r.max()          # where the warm-up's straight line ends
    warmup = int(np.argmax(bend)) + 1
    lr = r[warmup]
    changed = np.flatnonzero(~np.isclose(r[warmup:], lr, rtol=1e-9, atol=0))
    step_size = int(changed[0])
    return {"lr": float(lr), "warmup_epochs": warmup, "start_factor": float(r[0] / lr),
            "step_size": step_size, "gamma": float(r[warmup + step_size] / lr)}
""",
    ),
    # issue 23 (R23f): the counts as numpy scalars (np.int64, a whole np.float64), the rates as numpy floats: the text
    # reads any whole number as a count, and the kernel now judges them as the grader, which sees plain numbers
    ch4(
        "recipe_numpy_forms",
        "recipe_from_rates",
        recipe_variant(
            """    return {"lr": lr, "warmup_epochs": warmup, "start_factor": rates[0] / lr, "step_size": step_size,
            "gamma": rates[warmup + step_size] / lr}""",
            """    return {"lr": np.float64(lr), "warmup_epochs": np.int64(warmup), "start_factor": np.float32(rates[0] / lr),
            "step_size": np.float64(step_size), "gamma": np.float64(rates[warmup + step_size] / lr)}""",
        ),
    ),
    Answer("predict_drops_right", "03_adaptive_schedules", "predicted_drop_steps", "predicted_drop_steps = [4, 7]\n"),
]

EARLY_WRONG = [
    ch1(
        "largest_uses_flattest",
        "largest_stable_lr",
        largest_variant("max(curvatures)", "min(curvatures)"),
        fails=("test_largest_stable_lr_directions",),
    ),
    ch1(
        "largest_without_the_two",
        "largest_stable_lr",
        largest_variant("2.0 * (1 + momentum) / max(curvatures)", "1.0 * (1 + momentum) / max(curvatures)"),
        fails=ALL,
    ),
    # R23P1 M2: the dropped sign misreads the oscillating direction's curvature and, from it, the momentum read off
    # the second step, which then differs between the run and each direction alone: it loses both cells
    ch1(
        "largest_ignores_the_sign",
        "largest_stable_lr",
        largest_variant("factor = w1 / w0", "factor = abs(w1 / w0)"),
        fails=ALL,
    ),
    # R23P1 M2: the printed w <- (1 - lr a) w inverted, the momentum ignored: right on plain runs only
    ch1("largest_ignores_the_momentum", "largest_stable_lr", LARGEST_PLAIN, fails=ALL),
    ch1(  # the first step taken as a momentum step too: w1 = (1 + mu - lr a) w0 - mu w0 read as (1 + mu - lr a) w0
        "largest_first_step_with_momentum",
        "largest_stable_lr",
        """
def largest_stable_lr(lr, path):
    curvatures, momenta = [], []
    for w0, w1, w2 in zip(path[0], path[1], path[2]):
        c = w1 / w0
        mu = (c * w1 - w2) / w0
        curvatures.append((1 + mu - c) / lr)
        momenta.append(mu)
    return float(2 * (1 + momenta[0]) / max(curvatures))
""",
        fails=ALL,
    ),
    ch1(
        "largest_returns_the_rate_used",
        "largest_stable_lr",
        "def largest_stable_lr(lr, path):\n    return 2 * lr\n",
        fails=ALL,
    ),
    ch1(  # R23t item 3: the right bound as a 0-d tensor passed the visible cell, then the hidden cell failed with a
        # TypeError inside lrcourse/problems.py; the exercise asks for a float, and both cells' visible check says so
        "largest_returned_as_a_tensor",
        "largest_stable_lr",
        largest_variant(
            "    return 2.0 * (1 + momentum) / max(curvatures)",
            "    return torch.tensor(2.0 * (1 + momentum) / max(curvatures))",
        ),
        fails=ALL,
    ),
    ch1(
        "floor_oscillating_root",
        "rate_for_noise_floor",
        floor_variant("(1 - c ** 0.5) / lr", "(1 + c ** 0.5) / lr"),
        fails=ALL,
    ),
    ch1(  # the right number, as a 0-d tensor: the exercise asks for a float, and its visible check says so
        "floor_returned_as_a_tensor",
        "rate_for_noise_floor",
        floor_variant(
            "return 4 * target / (noise_squared + 2 * curvature * target)",
            "return torch.tensor(4 * target / (noise_squared + 2 * curvature * target), dtype=torch.float64)",
        ),
        fails=ALL,
    ),
    ch1(
        "floor_noise_term_forgotten",
        "rate_for_noise_floor",
        floor_variant("c = (f2 - f1) / (f1 - f0)", "c = f1 / f0"),
        fails=ALL,
    ),
    ch1(
        "floor_last_loss_taken_as_the_floor",
        "rate_for_noise_floor",
        floor_variant(
            "noise_squared = 2 * (f1 - c * f0) / (curvature * lr ** 2)",
            "noise_squared = 2 * losses[-1] * (2 - lr * curvature) / lr",
        ),
        fails=ALL,
    ),
    ch1(
        "floor_small_rate_approximation",
        "rate_for_noise_floor",
        floor_variant("(noise_squared + 2 * curvature * target)", "noise_squared"),
        fails=ALL,
    ),
    ch4(
        "recipe_step_size_counted_from_zero",
        "recipe_from_rates",
        recipe_variant(
            "step_size = 1\n",
            "step_size = warmup + 1\n",
            "rates[warmup + step_size], lr",
            "rates[step_size], lr",
            "rates[warmup + step_size] / lr}",
            "rates[step_size] / lr}",
        ),
        fails=("test_recipe_decay", "test_recipe_edge_cases"),
    ),
    ch4(
        "recipe_warmup_ends_a_step_early",
        "recipe_from_rates",
        recipe_variant('"warmup_epochs": warmup,', '"warmup_epochs": max(warmup - 1, 1),'),
        fails=("test_recipe_warmup", "test_recipe_edge_cases"),
    ),
    ch4(
        "recipe_start_factor_not_divided",
        "recipe_from_rates",
        recipe_variant('"start_factor": rates[0] / lr,', '"start_factor": rates[0],'),
        fails=("test_recipe_warmup", "test_recipe_edge_cases"),
    ),
    ch4(
        "recipe_largest_rate_taken_as_lr",
        "recipe_from_rates",
        """
def recipe_from_rates(rates):
    lr = max(rates)
    warmup = rates.index(lr)
    step_size = next(e for e in range(1, len(rates)) if not math.isclose(rates[warmup + e], lr, rel_tol=1e-9))
    return {"lr": lr, "warmup_epochs": warmup, "start_factor": rates[0] / lr, "step_size": step_size,
            "gamma": rates[warmup + step_size] / lr}
""",
        fails=("test_recipe_edge_cases",),
    ),
    ch4(
        "recipe_compared_with_equality",
        "recipe_from_rates",
        recipe_variant(
            "math.isclose(rates[warmup + 1] - rates[warmup], rise, rel_tol=1e-6, abs_tol=1e-12 * abs(rates[0]))",
            "rates[warmup + 1] - rates[warmup] == rise",
        ),
        fails=ALL,
    ),
    Answer(  # chapter 3's prediction is not graded (0 points): a wrong one loses nothing
        "predict_drops_tie_improves", "03_adaptive_schedules", "predicted_drop_steps", "predicted_drop_steps = [8]\n"
    ),
    Answer(  # chapter 3's prediction is not graded (0 points): a wrong one loses nothing
        "predict_drops_no_cooldown",
        "03_adaptive_schedules",
        "predicted_drop_steps",
        "predicted_drop_steps = [4, 7, 9]\n",
    ),
]

# R23p: a prediction the grader once could not read cost every test cell of the chapter (a value that did not decode),
# or most of the student's time budget (a read that timed out, asked again at every test cell); now each costs only
# its own 0-point test (test_remote_unread grades each with the rest of the solution: the rest keeps full marks)
UNREADABLE_PREDICTIONS = [
    Answer(
        "predict_drops_bool_tensor",
        "03_adaptive_schedules",
        "predicted_drop_steps",
        "import torch\npredicted_drop_steps = torch.tensor([True])\n",
    ),
    Answer(
        "predict_drops_float_sleeps",
        "03_adaptive_schedules",
        "predicted_drop_steps",
        "import time\n\nclass Steps(float):\n    def __float__(self):\n        time.sleep(30)\n        return 4.0\n\n"
        "predicted_drop_steps = Steps(4)\n",
    ),
]
EARLY_WRONG += UNREADABLE_PREDICTIONS

# chapter 4's recipe found by searching PyTorch's own SequentialLR for a matching curve (lr_curve, or stepped by hand)
EARLY_FORBIDDEN = [
    ch4(
        "recipe_by_searching_lr_curve",
        "recipe_from_rates",
        """
def recipe_from_rates(rates):
    for warmup in range(1, len(rates) - 1):
        for step_size in range(1, len(rates) - warmup):
            lr = rates[warmup]
            start, gamma = rates[0] / lr, rates[warmup + step_size] / lr
            def composed(opt):
                warm = lr_scheduler.LinearLR(opt, start_factor=start, end_factor=1.0, total_iters=warmup)
                decay = lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
                return lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[warmup])
            if np.allclose(lr_curve(composed, len(rates), lrs=lr), rates):
                return {"lr": lr, "warmup_epochs": warmup, "start_factor": start, "step_size": step_size, "gamma": gamma}
""",
        fails=ALL,
    ),
    ch4(
        "recipe_by_stepping_sequential_lr",
        "recipe_from_rates",
        """
import torch

def recipe_from_rates(rates):
    for warmup in range(1, len(rates) - 1):
        for step_size in range(1, len(rates) - warmup):
            lr = rates[warmup]
            start, gamma = rates[0] / lr, rates[warmup + step_size] / lr
            optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
            schedule = torch.optim.lr_scheduler.SequentialLR(optimizer, [
                torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start, total_iters=warmup),
                torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)], milestones=[warmup])
            seen = []
            for _ in rates:
                seen.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
                schedule.step()
            if all(abs(a - b) <= 1e-9 * abs(b) for a, b in zip(seen, rates)):
                return {"lr": lr, "warmup_epochs": warmup, "start_factor": start, "step_size": step_size, "gamma": gamma}
""",
        fails=ALL,
    ),
]


# --------------------------------------------------------------------------------------------
# Issue 23 (R23p W4): chapter 1's answer leaning on a helper of a scratch cell. The kernel has the helper, the
# grader runs the answer cells alone (NameError, 0): every visible cell fails it, naming the helper.
# --------------------------------------------------------------------------------------------
EARLY_SCRATCH_HELPERS = [
    Answer(
        "floor_root_from_a_scratch_cell",
        "01_learning_rate",
        "rate_for_noise_floor",
        floor_variant("(1 - c ** 0.5) / lr", "(1 - root(c)) / lr"),
        fails=ALL,
        scratch="def root(x):\n    return x ** 0.5\n",
    )
]
EARLY_WRONG += EARLY_SCRATCH_HELPERS
