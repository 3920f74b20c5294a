"""Grading a class on nbgrader: one room (a subpackage) per verb, above a ground every room stands on.

From the bottom; a module imports only from its own room, the ground, or a room listed before it
(tests/test_layers.py holds it):

- `sandbox/`: the trust boundary, every process that runs a student's code: nbgrader's notebooks in kernels
  forked from a kernel zygote (`kernels`, `kernel_zygote`, `kernel_relay`; `kernel_client` bounds what a
  kernel sends, `kernel_output` bounds it at the source), the answers' processes (`answers` here,
  `answer_zygote` there; `zygote`: what both zygotes share), in bubblewrap (`bwrap`, `limits`, `cgroups`,
  `namespaces`, `no_lr_scheduler`); `leftovers` removes what a killed worker's sandboxes left behind.
- the ground, here: `course` (the course's configuration and gradebook), `intake` (which submissions a run takes),
  `outcomes` (a run's outcomes), `exercise` (an assignment's exercises), `source_files` (nothing of
  source/<chapter>/ but its notebooks reaches a student) and `spreadsheet` (a CSV written, bounded); a notebook is
  read within `lrcourse.notebook_limits`, a layer below, which the students' own submit applies too.
- `browser/`: students' HTML made inert in the instructor's browser (`sanitize`, `markup`, `content_policy`,
  `bounded_render`), nbgrader's feedback page (`feedback_page`) and its exporter (`feedback_exporter`).
- `exchange/`: submissions from nbgrader's exchange (`collect`, `inbound`, `inbound_folder`, `root`, `mounts`),
  checked and copied into submitted/, each with the `submission_secret.txt` it keeps (`submission_secrets`: one
  rule for collect and grade, its owner recorded in the course's ledger); `nbgrader_collect`: nbgrader's collect
  made `collect`; `nbgrader_release`: nbgrader's releases, the exchange's folders checked as collect checks them.
- `autograde/`: the `lrcourse grade` run (`grade`), a pool of grading workers (`worker`, each under its own
  memory cap: `worker_memory`, stopped when held: `watchdog`); `verdicts`: every autograded test cell decided
  again in the grader's process, with the student's answers as stand-ins (`remote`) in processes of their own;
  `verdict_files`, `graded_files`, `output_caps`: what a run leaves on disk; `late` penalties from the trusted
  score; `withheld_scores`: the kernel's own scores never reach the gradebook; `grades_csv`: grades.csv;
  `plain_autograde`, `plain_validate`: nbgrader's own (unsandboxed) autograde and Validate refused.
- `doctor/`: `lrcourse doctor` (`diagnose`, `check`, `exchange`).
- `reports/`: a graded class read back (`results`), per-item grades and Canvas's import file (`export`), the class
  report (`class_report`, `reports/<chapter>.html`).
- `fleet/`: the grading queue: the Celery broker both sides share (`broker`), the enqueuing command (`grade`,
  `write`, `watch`, ...) and its workers (`worker`, `start`, `lease`, ...).

Nothing is imported here: importing `lrcourse.grading` (or `lrcourse.checking`) loads no orchestrator, and a
room's `__init__` imports nothing either.
"""
