"""Finish the JupyterLab set-up inside the course's virtual environment.

Run by `make` after pip: no first-run prompts for students (news, update checks), slider figures saved
with the notebook (a reopened chapter shows them before it is run again), Markdown opened rendered (the
start page), and nbgrader's extensions switched on for instructors. The learner's server (`make lab`) adds
LEARNER_CONFIG to JUPYTER_CONFIG_PATH, which switches the instructor tools off for that server only.
Idempotent: safe to run again.

    python scripts/setup_lab.py                 # this repository's .venv (make does it)
    python scripts/setup_lab.py --hub-students  # a hub's students' environment: instructor tools off for all of
                                                # it, the assignment list (fetch, submit) and Validate kept
"""

import json
import subprocess
import sys
from pathlib import Path

PREFIX = Path(sys.prefix)
OVERRIDES = PREFIX / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
QUIET_LAB = {
    # The "Would you like to get notified about official Jupyter news?" prompt, and update checks.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # Widget state saved in the notebook: reopened, a chapter shows each panel's last figure, not "model not found".
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
    # The start page (workspace/START.md) and any other Markdown open as a page, not as source.
    "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Markdown Preview"}},
}
LEARNER_CONFIG = PREFIX / "etc" / "jupyter-learner"
# Instructor tools: nbgrader's lab plugins and server extensions a self-study learner must not see.
INSTRUCTOR_PLUGINS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
]
NBGRADER_MENU = "@jupyter/nbgrader:menu"  # opens those tools; Validate is a notebook button of its own
INSTRUCTOR_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.assignment_list",
]
NBGRADER_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]
# nbgrader's configuration for any folder, read by every nbgrader command and server of this environment: the
# course's Validate guard, its refusal of nbgrader's own autograde and its sanitizer, which the course's own
# nbgrader_config.py sets only where it is read (lrcourse/grading/autograde/plain_validate.py, plain_autograde.py). A course's own settings win.
ENV_NBGRADER_CONFIG = PREFIX / "etc" / "jupyter" / "nbgrader_config.py"
ENV_GUARDS = """\
# Written by scripts/setup_lab.py: nbgrader's Validate refuses students' notebooks from any folder, nbgrader's own
# autograde refuses to run students' code unsandboxed, the pages nbgrader renders of students' work are
# sanitized (lrcourse/grading/autograde/plain_validate.py, plain_autograde.py, sanitize.py), and a submission's folder in the
# exchange is writable by its student alone (lrcourse/exchange_submit.py); without lrcourse, no nbgrader kernel starts.
try:
    from lrcourse.grading.autograde.plain_autograde import refuse_plain_autograde
    from lrcourse.grading.autograde.plain_validate import refuse_students_notebooks
    from lrcourse.grading.browser.sanitize import show_safely
    from lrcourse.grading.course import refuse_outdated_config
except ImportError:
    c.Execute.kernel_name = "lrcourse-is-not-importable"
else:
    refuse_outdated_config(".")  # the folder's nbgrader_config.py, read next, of an older lrcourse: what to do, said
    refuse_students_notebooks()
    refuse_plain_autograde(c)
    show_safely(c)
    c.ExchangeFactory.submit = "lrcourse.exchange_submit.OwnerOnlySubmit"
"""
# A Content-Security-Policy on formgrader's pages of student work (lrcourse/grading/browser/content_policy.py).
# And, as root, nbgrader's addresses refused in a course not root's through and through (exchange/roots_formgrader.py).
CONTENT_POLICY = PREFIX / "etc" / "jupyter" / "jupyter_server_config.d" / "lrcourse.json"
LRCOURSE_EXTENSIONS = ("lrcourse.grading.browser.content_policy", "lrcourse.grading.exchange.roots_formgrader")


def write_overrides() -> None:
    OVERRIDES.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(OVERRIDES.read_text()) if OVERRIDES.exists() else {}
    current.update(QUIET_LAB)
    OVERRIDES.write_text(json.dumps(current, indent=2) + "\n")


def jupyter(*args: str) -> None:
    subprocess.run([str(PREFIX / "bin" / "jupyter"), *args], check=True, capture_output=True)


def enable_nbgrader() -> None:
    for name in NBGRADER_SERVER_EXTENSIONS:
        jupyter("server", "extension", "enable", "--sys-prefix", name)
    jupyter("labextension", "enable", "--level=sys_prefix", "@jupyter/nbgrader")
    CONTENT_POLICY.parent.mkdir(parents=True, exist_ok=True)  # `jupyter server extension enable` needs this file
    CONTENT_POLICY.write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": dict.fromkeys(LRCOURSE_EXTENSIONS, True)}})
    )


def write_env_guards() -> None:
    ENV_NBGRADER_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    ENV_NBGRADER_CONFIG.write_text(ENV_GUARDS)


def write_learner_config(folder: Path, keep_assignment_list: bool = False) -> None:
    """Jupyter config in `folder` that switches nbgrader's instructor tools off: formgrader, create-assignment,
    the course list, and (self-study has no exchange) the assignment list unless kept; Validate stays."""
    plugins = [name for name in INSTRUCTOR_PLUGINS if not (keep_assignment_list and "assignment-list" in name)]
    if not keep_assignment_list:  # its menu would list only the tools switched off: an empty "Nbgrader" menu
        plugins.append(NBGRADER_MENU)
    extensions = [
        name for name in INSTRUCTOR_SERVER_EXTENSIONS if not (keep_assignment_list and "assignment_list" in name)
    ]
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    disabled = {"disabledExtensions": {name: True for name in plugins}}
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(disabled, indent=2) + "\n")
    (folder / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    server = {"ServerApp": {"jpserver_extensions": {name: False for name in extensions}}}
    # in .d, named after nbgrader's own file so that it is read after it and wins
    (folder / "jupyter_server_config.d" / "nbgrader_students.json").write_text(json.dumps(server, indent=2) + "\n")


if __name__ == "__main__":
    write_overrides()
    enable_nbgrader()
    write_env_guards()
    if "--hub-students" in sys.argv:
        write_learner_config(PREFIX / "etc" / "jupyter", keep_assignment_list=True)
        print(f"JupyterLab set up in {PREFIX} for a hub's students: nbgrader's instructor tools off")
    else:
        write_learner_config(LEARNER_CONFIG)
        print(
            f"JupyterLab set up in {PREFIX}: quiet first run, saved widget state, nbgrader extensions enabled "
            f"(off for learners: {LEARNER_CONFIG})"
        )
