"""Helpers for the course on learning-rate schedules in PyTorch, by layer from the bottom (ARCHITECTURE.md
draws the layers and the trust boundary):

- the learner's helpers: `schedules`, `problems`, `plots`, `widgets`, `training` (with `runs/`, its cache), `best_epoch`
  (the optimism of a run's best epoch, chapters 5-6).
- what every side shares: `cells` (which cell is what), `wire` (values as plain JSON), `tolerances`,
  `fixtures` (chapters 5-6's seeded training runs), `pytorch_trajectories` (what PyTorch's own schedulers do),
  `kernel_messages` (how a check's failure and an unanswered exercise read in a learner's kernel) and
  `gradebook_db` (nbgrader's gradebook, SQLite with a busy timeout).
- `exchange_submit`: nbgrader's submit as the course configures it in a student's server (each submission
  folder in the exchange writable by its student alone).
- `checking`: the test cells' API, run in the student's kernel and in the grader.
- `grading`: the grader (`lrcourse grade`, trusted verdicts, results), with `grading.sandbox`, the trust
  boundary: every process that runs a student's code.
- the commands: `cli`, `build`, `workspace`, `start_page`, `examples`.

Nothing here answers a graded exercise: the answers live in `source/` and `solutions/` (the instructor's
notebooks) and `grader/references.py` (the training exercises'), none of which a student's kernel imports.
"""

from lrcourse import kernel_messages

__version__ = "0.1.0"

# In a learner's kernel (every chapter's setup cell imports lrcourse): an unanswered exercise in one line.
kernel_messages.show_unanswered_briefly()
