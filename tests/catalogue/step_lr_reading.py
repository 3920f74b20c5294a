"""Chapter 2's Exercise 2 (b), reading a StepLR's log: step_size, gamma and the rate set by hand, one point each.

The log (the chapter's `read-log` cell): StepLR(step_size=5, gamma=0.7) from 0.4, the rate set by hand to 0.25
between steps 14 and 15; step 15 decays it to 0.175."""

from __future__ import annotations

import json

from catalogue.answers import ALL, Answer

CHAPTER = "02_ordered_schedules"
RIGHT = {"step_size": 5, "gamma": 0.7, "hand_set_rate": 0.25}
STEP_SIZE, GAMMA, HAND_SET = (f"test_inferred_{key}" for key in ("step_size", "gamma", "hand_set_rate"))


def inferred(name, fields, fails=()):
    """An answer whose dict has `fields`: the log's values with some changed; each cell lost costs its 1 point of 3."""
    source = f"inferred_step_lr = {RIGHT | fields!r}\n"
    return Answer(name, CHAPTER, "inferred_step_lr", source, fails, score=3 - len(fails))


# issue 23 (R23b): a replay through PyTorch's StepLR (the setup cell imports lr_scheduler) with the hand edit, to check
# the reading; the chapter's log is the rate at creation and after each of 24 steps
REPLAY = """
optimizer = make_optimizer(0.4)
replay = lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.7)
replayed = [optimizer.param_groups[0]["lr"]]
for step in range(1, 25):
    if step == 15:
        optimizer.param_groups[0]["lr"] = 0.25
    optimizer.step()
    replay.step()
    replayed.append(optimizer.param_groups[0]["lr"])
"""
ANSWER = 'inferred_step_lr = {"step_size": 5, "gamma": 0.7, "hand_set_rate": 0.25}\n'
# R23f W1: the replay as a function defined before the answer and called only after it: graded, the call raises once
# the answer is bound (3 / 3), and the visible test cells pass it
REPLAY_DEFINED = """
def replays(step_size, gamma, hand_set_rate):
    optimizer = make_optimizer(0.4)
    replay = lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    rates = [optimizer.param_groups[0]["lr"]]
    for step in range(1, 25):
        if step == 15:
            optimizer.param_groups[0]["lr"] = hand_set_rate
        optimizer.step()
        replay.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates

"""
CALLED_AFTER = "print(max(abs(a - b) for a, b in zip(replays(**inferred_step_lr), logged_rates)))\n"
# R23f M1: StepLR imported under a name of the student's own in the answer cell, the replay, then the answer: graded,
# Decay(...) raises before the answer is bound, 0 / 3 (the visible test cells now say so)
ALIASED_REPLAY = "from torch.optim.lr_scheduler import StepLR as Decay\n" + REPLAY.replace(
    "lr_scheduler.StepLR(", "Decay("
)

STEP_READING_CORRECT = [
    inferred("step_read_right", {}),
    # R23q W3: a lookup by a string after the answer is bound costs the graded answer nothing
    Answer(
        "step_read_eval_after_the_answer",
        CHAPTER,
        "inferred_step_lr",
        'inferred_step_lr = {"step_size": 5, "gamma": 0.7, "hand_set_rate": 0.25}\nprint(eval("inferred_step_lr"))\n',
    ),
    # computed from the log of the context cell, the decay undone by division
    Answer(
        "step_read_from_the_log",
        CHAPTER,
        "inferred_step_lr",
        """
gamma = logged_rates[10] / logged_rates[9]
inferred_step_lr = dict(step_size=logged_rates.index(0.28), gamma=gamma, hand_set_rate=logged_rates[15] / gamma)
""",
    ),
    # the same numbers in the forms StepLR itself takes: a whole float, numpy scalars; gamma to 7 digits
    Answer(
        "step_read_numpy_forms",
        CHAPTER,
        "inferred_step_lr",
        "import numpy as np\n"
        'inferred_step_lr = {"step_size": np.int64(5), "gamma": np.float64(0.7000000), '
        '"hand_set_rate": np.float32(0.25)}\n',
    ),
    # graded without PyTorch's schedulers, the replay raises only once the answer is bound: 3 / 3
    Answer("step_read_replayed_after_the_answer", CHAPTER, "inferred_step_lr", ANSWER + REPLAY, score=3),
    inferred("step_read_whole_float", {"step_size": 5.0, "gamma": 0.1225 / 0.175, "hand_set_rate": 0.1225 / 0.49}),
    Answer(
        "step_read_replay_defined_before_called_after",
        CHAPTER,
        "inferred_step_lr",
        REPLAY_DEFINED + ANSWER + CALLED_AFTER,
        score=3,
    ),
]

STEP_READING_WRONG = [
    # issue 23 (R23b): the replay in the answer cell, before the answer: graded without PyTorch's schedulers the cell
    # stops at StepLR(...) and binds nothing, 0 / 3 (the notebook's test cells now say so before submitting)
    Answer("step_read_replayed_in_the_answer_cell", CHAPTER, "inferred_step_lr", REPLAY + ANSWER, ALL, score=0),
    Answer(
        "step_read_aliased_replay_in_the_answer_cell",
        CHAPTER,
        "inferred_step_lr",
        ALIASED_REPLAY + ANSWER,
        ALL,
        score=0,
    ),
    # each key earns its own point: a wrong one loses only its cell
    inferred("step_read_rows_before_the_drop", {"step_size": 4}, fails=(STEP_SIZE,)),  # steps 1-4 counted, not 0-4
    inferred("step_read_one_late", {"step_size": 6}, fails=(STEP_SIZE,)),  # the first row at the new rate
    inferred("step_read_gamma_as_the_cut", {"gamma": 0.3}, fails=(GAMMA,)),  # "cuts by 30 %"
    inferred("step_read_gamma_at_the_edit", {"gamma": 0.175 / 0.196}, fails=(GAMMA,)),  # the edit taken for a decay
    # the closed-form reading: the rate after step 15 taken for the rate set by hand (the decay left out)
    inferred("step_read_edit_as_logged", {"hand_set_rate": 0.175}, fails=(HAND_SET,)),
    inferred("step_read_edit_decayed_twice", {"hand_set_rate": 0.175 / 0.49}, fails=(HAND_SET,)),
    Answer(
        "step_read_missing_key",
        CHAPTER,
        "inferred_step_lr",
        'inferred_step_lr = {"step_size": 5, "gamma": 0.7, "edit": 0.25}\n',
        (HAND_SET,),  # each key is checked in its own cell
        score=2,
    ),
    inferred("step_read_step_size_fractional", {"step_size": 5.5}, fails=(STEP_SIZE,)),  # not a whole number
    Answer("step_read_a_list", CHAPTER, "inferred_step_lr", "inferred_step_lr = [5, 0.7, 0.25]\n", ALL, score=0),
    # R23o W3: the right values from a module or a file of the learner's folder: every visible cell passed, and the
    # grader, which has the notebook alone, stops at the import or the open (0 / 3); the visible cells now say so
    Answer(
        "step_read_from_a_module_beside",
        CHAPTER,
        "inferred_step_lr",
        "import answer_mod\ninferred_step_lr = answer_mod.ANSWER\n",
        ALL,
        score=0,
        beside=(("answer_mod.py", f"ANSWER = {RIGHT!r}\n"),),
    ),
    Answer(
        "step_read_from_a_file_beside",
        CHAPTER,
        "inferred_step_lr",
        'import json\ninferred_step_lr = json.load(open("g.json"))\n',
        ALL,
        score=0,
        beside=(("g.json", json.dumps(RIGHT)),),
    ),
    # R23q W3: a scratch cell's name, or a module a scratch cell imported (cached: no file opened), found by a string:
    # every visible cell passed, the grader stops at a NameError or a ModuleNotFoundError (0 / 3); now refused
    Answer(
        "step_read_a_scratch_name_by_eval",
        CHAPTER,
        "inferred_step_lr",
        'inferred_step_lr = eval("scratch")\n',
        ALL,
        score=0,
        scratch=f"scratch = {RIGHT!r}\n",
    ),
    Answer(
        "step_read_a_cached_module_by_a_string",
        CHAPTER,
        "inferred_step_lr",
        'inferred_step_lr = __import__("answer_mod").ANSWER\n',
        ALL,
        score=0,
        beside=(("answer_mod.py", f"ANSWER = {RIGHT!r}\n"),),
        scratch="import answer_mod\n",
    ),
]
