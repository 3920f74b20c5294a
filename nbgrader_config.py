"""nbgrader configuration: the repository root is the course directory."""

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "lr-schedules"
c.CourseDirectory.source_directory = "source"
# Student notebooks are committed so a self-study learner can open them after cloning.
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# The student notebooks ship without the instructor's solutions and hidden tests.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# A student's infinite loop costs one cell, not the whole grading run.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
# Grading must not depend on which kernels the grader has: always the course's python3.
c.Execute.kernel_name = "python3"
# Once its last cell has run, a graded kernel has nothing left to do: stop it at once rather than wait
# for a clean exit (with torch loaded that wait is over half a second per notebook).
c.Execute.shutdown_kernel = "immediate"

# `lrcourse grade` and `lrcourse check` run every student's code in a sandbox (lrcourse/grading/sandbox/bwrap.py);
# these are its limits, per notebook (kernel) and per grading worker (answer processes). The defaults suit
# this course on a 2-core, 24 GB machine grading with two workers.
c.Sandbox.memory_mb = 3072  # the whole sandbox (a cgroup when the grader runs as root; else per process)
c.Sandbox.processes = 64  # the whole sandbox (a cgroup when root; else per user)
c.Sandbox.cpus = 1  # cores the whole sandbox may keep busy (a cgroup when root)
c.Sandbox.file_size_mb = 64  # any one file written
c.Sandbox.cpu_seconds = 600  # per process
c.Sandbox.open_files = 256  # files open at once, per process
c.Sandbox.wall_seconds = 300  # a notebook's whole run
c.Sandbox.student_seconds = 420  # one student's notebook and the grader's own checks of it, together
c.Sandbox.tmp_mb = 256  # its private /tmp
c.Sandbox.cell_output_kb = 1024  # output kept from one cell, then cut with a note (grading/autograde/output_caps.py)
c.Sandbox.notebook_output_kb = 8192  # output kept from the whole notebook
c.Sandbox.cell_outputs = 200  # outputs kept from one cell, however small (then dropped, counted in the cell's note)
c.Sandbox.notebook_outputs = 1000  # outputs kept from the whole notebook
c.Sandbox.worker_memory_mb = 2048  # a grading worker itself, not its sandboxes (grading/autograde/worker_memory.py)
c.Sandbox.worker_grace_seconds = 300  # beyond student_seconds, before a worker held on one student is stopped
# Released feedback shows each test cell's result and message but not its hidden tests' source; True restores
# nbgrader's behaviour (the source of hidden tests in every student's feedback).
c.Lrcourse.feedback_shows_hidden_tests = False
# `nbgrader autograde` and formgrader's Autograde button refuse to run (lrcourse/grading/autograde/plain_autograde.py): they
# would run students' code unsandboxed, as the instructor, and keep the kernel's scores. Grade with `lrcourse grade
# CHAPTER`; for notebooks you trust, `nbgrader autograde ... --Lrcourse.allow_unsandboxed_autograde=True`.
# The exporter refuses before nbgrader touches any student's autograded folder or gradebook rows; the first
# sanitizing step refuses again should another setting replace the exporter. The other steps are nbgrader's own
# sanitizing steps (nbgrader.converters.Autograde), unchanged. Spelled out here rather than through
# plain_autograde.refuse_plain_autograde (as the environment's configuration does): where lrcourse cannot be imported
# these names fail on their own, and nbgrader stops before it touches anything (tests/test_plain_autograde.py).
c.Autograde.exporter_class = "lrcourse.grading.autograde.plain_autograde.RefusingExporter"
c.Autograde.sanitize_preprocessors = [
    "lrcourse.grading.autograde.plain_autograde.RefuseUnsandboxed",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# `nbgrader collect` and formgrader's Collect button run `lrcourse collect` (lrcourse/grading/exchange/nbgrader_collect.py).
c.ExchangeFactory.collect = "lrcourse.grading.exchange.nbgrader_collect.TrustedCollect"
# `nbgrader release_assignment`, `release_feedback` and formgrader's Release buttons make or use the exchange's
# course, outbound, inbound and feedback folders only as folders of yours or root's, never through a link
# (a student may put one at <exchange>/<course_id> first; lrcourse/grading/exchange/nbgrader_release.py).
c.ExchangeFactory.release_assignment = "lrcourse.grading.exchange.nbgrader_release.TrustedReleaseAssignment"
c.ExchangeFactory.release_feedback = "lrcourse.grading.exchange.nbgrader_release.TrustedReleaseFeedback"
# `nbgrader list --remove` and formgrader's Unrelease button remove only from your or root's course folder in the
# exchange, never through a link a student put there (lrcourse/grading/exchange/nbgrader_list.py).
c.ExchangeFactory.list = "lrcourse.grading.exchange.nbgrader_list.TrustedList"
# Nothing a student wrote runs in the instructor's browser: formgrader's view of a submission and the feedback
# show its outputs, markdown and raw cells sanitized (lrcourse/grading/browser/sanitize.py).
c.HTMLExporter.preprocessors = ["lrcourse.grading.browser.sanitize.SafeToShow"]
c.HTMLExporter.filters = {
    "markdown2html": "lrcourse.grading.browser.sanitize.cell_markdown2html",
    "strip_files_prefix": "lrcourse.grading.browser.sanitize.strip_files_prefix",
}
# `nbgrader export` writes grades.csv as `lrcourse grade` does: quoted, and no cell that a spreadsheet would run
# (nbgrader's own exporter leaves a comma or a formula in a student's name as it is).
c.ExportApp.plugin_class = "lrcourse.grading.autograde.grades_csv.GradesCsvExportPlugin"
# nbgrader's Validate refuses notebooks in submitted/, autograded/, feedback/ and the exchange (students' work, which
# it would run unsandboxed, as you); learners' own notebooks validate as before (lrcourse/grading/autograde/plain_validate.py).
# For notebooks you trust: `--Lrcourse.allow_unsandboxed_validate=True`. Where lrcourse cannot be imported, this file
# cannot guard Validate: it names a kernel that does not exist, so no nbgrader kernel starts (as the lines above fail
# closed on their own; nothing in this course runs without lrcourse anyway).
# nbgrader's feedback page names every item of its contents and loads MathJax from HTMLExporter.mathjax_url (default:
# nbconvert's CDN; `lrcourse check` points it at the MathJax installed here): lrcourse/grading/browser/feedback_page.py.
# formgrader's pages of student work get their Content-Security-Policy and route guards (lrcourse/grading/browser/content_policy.py)
# wherever formgrader reads this file, even in a server where that extension is not enabled.
try:
    from lrcourse.grading.autograde.plain_validate import refuse_students_notebooks
    from lrcourse.grading.browser.content_policy import guard_this_server
    from lrcourse.grading.browser.feedback_page import use_feedback_template
    from lrcourse.grading.exchange.roots_formgrader import refuse_root_here
except ImportError:
    c.Execute.kernel_name = "lrcourse-is-not-importable"
else:
    guard_this_server()
    refuse_root_here()  # formgrader as root: only in a course root's through and through (README)
    refuse_students_notebooks()
    use_feedback_template(c)
