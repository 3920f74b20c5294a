"""Helpers for the course on learning-rate schedules in PyTorch.

One module per concern, so the notebooks show ideas rather than plumbing:

- `schedules`: the learning-rate curve a real PyTorch scheduler produces.
- `problems`: toy losses and simulated training signals (quadratics, noisy gradients, plateaus).
- `plots`: figures in one consistent style.
- `widgets`: slider panels that redraw a figure.
- `training`: the digits split and batches the graders of chapters 5 and 6 build on, and `cached_run`, the
  disk cache (plus the precomputed runs in `lrcourse/runs/`) that keeps those chapters fast.
- `checking`: what the exercises' test cells use to compare a student's class with PyTorch.
- `grading`, `cli`: the `lrcourse` command for instructors and self-study.

Nothing here answers a graded exercise: the answers live only in `source/`.
"""

from lrcourse import kernel_messages

__version__ = "0.1.0"

# In a learner's kernel (every chapter's setup cell imports lrcourse): an unanswered exercise in one line.
kernel_messages.show_unanswered_briefly()
