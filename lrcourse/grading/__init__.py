"""Grading a class on nbgrader, one module per step an instructor knows.

- `grade`: the `lrcourse grade` run: intake (`intake`), a pool of grading workers (`worker`, each under its
  own memory cap: `worker_memory`), the run's outcomes (`outcomes`); `course` opens the course's configuration
  and gradebook.
- `verdicts`: every autograded test cell decided again in the grader's process, from the assignment's
  `exercise`, with the student's answers as stand-ins (`remote`) in processes of their own; `verdict_files`:
  what they leave on disk (their record, the graded notebook's notes).
- `sandbox/`: the trust boundary, every process that runs a student's code: nbgrader's notebooks in kernels
  forked from a kernel zygote (`kernels`, `kernel_zygote`, `kernel_relay`; `kernel_client` bounds what a
  kernel sends, `kernel_output` bounds it at the source), the answers' processes (`answers` here,
  `answer_zygote` there; `zygote`: what both zygotes share), in bubblewrap (`bwrap`, `limits`, `cgroups`,
  `namespaces`, `no_lr_scheduler`); `leftovers` removes what a killed worker's sandboxes left behind.
- `collect`: submissions from nbgrader's exchange (`inbound`), checked and copied into submitted/, each with the
  `submission_secret.txt` it keeps (`submission_secrets`: one rule for collect and grade, its owner recorded in
  the course's ledger).
- `output_caps`, `notebook_limits`, `spreadsheet`: what a kernel emits, a notebook read, a CSV written, bounded.
- `late`: late penalties from the trusted score; `nbgrader_collect`: nbgrader's collect made `collect`.
- `withheld_scores`: the kernel's own scores never reach the gradebook; `plain_autograde`: nbgrader's own
  (unsandboxed) autograde refused outside a grading worker; `plain_validate`: nbgrader's Validate refused on
  students' notebooks; `source_files`: nothing of source/<chapter>/ but its notebooks reaches a student (the
  release refuses the rest, autograde copies none of it).
- `sanitize`, `content_policy`: students' HTML made inert in the instructor's browser (formgrader, feedback).
- `results`: read a graded class back: per-item grades from the gradebook, failures, verdicts, failure messages.
- `export`: per-item grades (an nbgrader export plugin) and Canvas's gradebook import file from a roster.
- `class_report`: the class report, one self-contained HTML page per chapter (`reports/<chapter>.html`).

Nothing is imported here: importing `lrcourse.grading` (or `lrcourse.checking`) loads no orchestrator.
"""
