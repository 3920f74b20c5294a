"""`lrcourse doctor`: whether students' code can be graded here, and what to do when it cannot.

Grading runs every student's code in the sandbox (`lrcourse.grading.sandbox`); when a part of it is missing,
kernels die and the class reads "no feedback". The doctor starts what a grading worker starts, once, with the
course's limits: the process that runs answers and one kernel, each in its sandbox, and has each report which
of the paths the sandbox must show (the Python installation, the virtual environment, the course package) it
cannot see. Each check is one line: `ok`, or `FAIL` (grading cannot work) or `warn` (it works, with less)
with what is wrong and how to fix it. First, without starting anything, it checks the nbgrader exchange that
`lrcourse collect` reads, when there is one (its root must keep the course's folder in place: `exchange_root`; the
course's folder must exist and be the instructor's, checked as collect checks it; its inbound folder 3733; and
whether the kernel refuses a student's hard link to a classmate's file: `doctor_exchange`), and warns when the homes
beside the user's own can be entered by others (`private_homes`) or the course folder written, read or entered by
others (`course_folder_closed`: by others, or by a group that holds students), or a folder above it written by them.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lrcourse.grading.doctor.above import writable_above
from lrcourse.grading.doctor.accounts import Accounts
from lrcourse.grading.doctor.check import Check, one_line

PROBE_SECONDS = 120.0  # a kernel or answer process importing torch on a busy machine


def probe_source(paths: list[str]) -> str:
    """The code run inside: which of `paths` it cannot see, and whether the course package imports there."""
    return (
        "import os, json, importlib\n"
        f"paths = {json.dumps(paths)}\n"
        "importlib.import_module('lrcourse.kernel_messages')\n"
        "probe = json.dumps({'missing': [p for p in paths if not os.path.exists(p)]})\n"
    )


def sandbox_tools() -> list[Check]:
    """bubblewrap, util-linux and user namespaces: what `lrcourse grade` refuses to start without."""
    from lrcourse.grading.sandbox.bwrap import missing_for_sandbox

    missing = missing_for_sandbox()
    return [Check("sandbox tools", problem, fix) for problem, fix in missing] or [
        Check("sandbox tools (bubblewrap, util-linux, user namespaces)")
    ]


def cgroups(limits) -> Check:
    """Whether each sandbox gets memory, pids and cpu cgroups (only a root grader makes them)."""
    from lrcourse.grading.sandbox.bwrap import Sandbox
    from lrcourse.grading.sandbox.cgroups import CONTROLLERS

    name = "cgroups (memory, processes and CPU bounded per sandbox)"
    if os.geteuid() != 0:
        return Check(
            name,
            "not root: limits are per process (rlimits), a student's processes together are bounded by the machine",
            "grade as root on a machine with cgroups v2",
            warning=True,
        )
    sandbox = Sandbox(limits)
    try:
        made = set(sandbox.cgroups)
    finally:
        sandbox.close()
    lacking = [controller for controller in CONTROLLERS if controller not in made]
    if not lacking:
        return Check(name)
    return Check(
        name,
        f"no {', '.join(lacking)} cgroup could be made under /sys/fs/cgroup: those limits are per process",
        "a writable cgroup v2 hierarchy with the memory, pids and cpu controllers delegated "
        "(cgroup.subtree_control); in a container, a cgroup namespace of its own mounted read-write",
        warning=True,
    )


def answer_process(limits, paths: list[str]) -> Check:
    """Fork one answer process in its sandbox and have it run the probe as an answer cell."""
    from lrcourse import wire
    from lrcourse.grading.sandbox.answers import AnswerZygoteHandle

    name = "a sandboxed answer process starts and sees the environment"
    handle = AnswerZygoteHandle(limits=limits)
    try:
        process = handle.fork()
        try:
            loaded = process.request({"op": "load", "context": [], "answers": [probe_source(paths)]}, PROBE_SECONDS)
            error = (loaded.get("errors") or [None])[0]
            if error:
                raised = f"{error.get('name')}: {error.get('message')}"
                return Check(name, one_line(f"the probe raised {raised}"), fix_for(raised))
            reply = process.request({"op": "value", "target": "probe"}, PROBE_SECONDS)
        finally:
            process.close()
        return _seen(name, json.loads(wire.decode(reply["value"]))["missing"])
    except Exception as error:
        return Check(name, one_line(f"{type(error).__name__}: {error}"), fix_for(str(error)))
    finally:
        handle.stop()


def kernel(limits, paths: list[str]) -> Check:
    """Fork one kernel in its sandbox (as nbgrader's execute step gets it) and run the probe as a cell."""
    import nbformat
    from nbclient import NotebookClient

    from lrcourse.grading.sandbox.kernels import Kernels, KernelZygoteHandle

    name = "a sandboxed kernel starts and sees the environment"
    kernels = Kernels(KernelZygoteHandle(limits), limits)
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-doctor-"))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe_source(paths) + "print(probe)")])
    client = NotebookClient(
        notebook,
        timeout=int(PROBE_SECONDS),
        startup_timeout=int(PROBE_SECONDS),
        kernel_name="python3",
        kernel_manager_class=kernels.manager_class(),
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute()
        printed = "".join(o.get("text", "") for o in notebook.cells[0].outputs if o.output_type == "stream")
        return _seen(name, json.loads(printed)["missing"])
    except Exception as error:
        # nbclient leaves its clean-up registered when the kernel dies before it is ready: it would fail at exit
        atexit.unregister(client._cleanup_kernel)
        why = kernels.limit_hit(folder) or f"{type(error).__name__}: {error}"
        return Check(name, one_line(why), fix_for(str(why)))
    finally:
        kernels.limit_hit(folder)  # ends a kernel left behind
        kernels.close()
        shutil.rmtree(folder, ignore_errors=True)


def _seen(name: str, missing: list[str]) -> Check:
    if not missing:
        return Check(name)
    return Check(
        name,
        f"hidden inside the sandbox: {', '.join(missing)}",
        "keep the Python installation and the virtual environment out of folders the sandbox replaces",
    )


def fix_for(error: str) -> str:
    """How to fix what a zygote or kernel said when it failed."""
    if "No module named" in error:
        return "install the course into the environment that grades (`make .venv/.installed`, or `pip install .`)"
    if "uid map" in error or "uid_map" in error:  # bwrap's words when AppArmor refuses it a user namespace
        return (
            "Ubuntu 24.04 and later restrict user namespaces with AppArmor: `sysctl -w "
            "kernel.apparmor_restrict_unprivileged_userns=0` (as root), or an AppArmor profile that allows bwrap "
            "`userns` (/etc/apparmor.d/bwrap)"
        )
    if "creating new namespace" in error or "unshare" in error or "Operation not permitted" in error:
        return (
            "allow user namespaces: `sysctl -w user.max_user_namespaces=15000` and, on Debian, "
            "`sysctl -w kernel.unprivileged_userns_clone=1` (as root); in a container, a seccomp profile that "
            "allows unshare, clone and mount (Docker: --security-opt seccomp=unconfined, or a profile adding "
            "them), and an unmasked /proc (--security-opt systempaths=unconfined)"
        )
    if "Kernel died" in error:
        return (
            "the kernel ended as it started: a path it needs hidden (see the answer process's line), or a limit "
            "too small for it (c.Sandbox.* in nbgrader_config.py)"
        )
    return "run `lrcourse doctor` again as the user that grades, in the course folder; the message says what failed"


def private_homes(parent: Path | None = None, shown: int = 5) -> Check:
    """Whether the homes beside this user's (in `parent`, default the folder holding this user's home) are
    closed to other users: a classmate who can enter a student's home reads their working notebooks and their
    `.local/share/jupyter/nbgrader_cache/.../submission_secret.txt` (the name feedback is filed under), whose
    path nbgrader fixes. Only what this user can see is checked: the modes of the folders listed there (/home
    for root; homes kept elsewhere, in each pod's own volume for instance, are not)."""
    parent = parent or (Path.home().parent if Path.home().parent != Path("/") else Path("/home"))  # root's /root
    name = f"students' homes in {parent} closed to other users (mode 0700)"
    try:
        homes = sorted((e for e in os.scandir(parent) if e.is_dir(follow_symlinks=False)), key=lambda e: e.name)
    except OSError as error:
        return Check(name, f"not checked: cannot list {parent} ({error.strerror})", warning=True)
    open_homes = [home.name for home in homes if home.stat(follow_symlinks=False).st_mode & 0o007]
    if not open_homes:
        return Check(f"{name}: {len(homes)} checked")
    listed = ", ".join(open_homes[:shown]) + (f" and {len(open_homes) - shown} more" if len(open_homes) > shown else "")
    return Check(
        name,
        f"{len(open_homes)} of {len(homes)} can be entered by other users ({listed}): a classmate can read the "
        "notebooks and nbgrader's submission secret in them",
        "`chmod 700` each student's home, and set HOME_MODE 0700 in /etc/login.defs for new users",
        warning=True,
    )


def course_folder_closed(course: Path) -> Check:
    """Whether the instructor's course folder (where collect and grade run) is writable by its owner only and closed
    to others: in one others can write, a student can rename the secret ledger (`.secret_owners`) away, so every
    secret collected so far has no recorded owner, and edit the source notebooks and the gradebook; in one others can
    read or enter, every student reads source/'s solutions and hidden tests and each classmate's submission_secret.txt
    (0644 in the 0755 autograded/, feedback/ and submitted/ folders written before collect and grade made them 0700:
    she fetches their feedback) (F24 N3). "Others" are every account but the folder's owner and root that reaches
    it (`Accounts.readers`): by its others' bits, its group's when that group holds any other account (a distro's
    shared `users` group, R20n W1), or a POSIX ACL's named user or group (`access_acl`, R20o M1), past every folder above it
    (a home made 0750 whose group holds students lets them through). 0750 with a group of its owner alone passes, and
    so does 0755 in a home made 0700. Accounts are those `pwd` enumerates (not LDAP's or sssd's unless enumerated).
    Collect and grade refuse a planted ledger (`ledger_folder`), not the folder's mode: this is where it is said.
    A folder above it such an account can write lets her replace the whole course folder (`above`, R20q W1)."""
    name = f"the course folder {course} writable by its owner only, closed to others"
    try:
        info = os.stat(course)
        if not stat.S_ISDIR(info.st_mode):  # a mistyped --course naming a file: no mode advice for it (R25v N2)
            return Check(name, "not checked: not a folder", warning=True)
        accounts = Accounts(info.st_uid)
        readers = accounts.readers(course)
        above, above_mends = writable_above(course, accounts)
    except (OSError, ValueError) as error:  # ValueError: an ACL attribute that is not one (`access_acl.Unreadable`)
        return Check(name, f"not checked: {getattr(error, 'strerror', None) or error}", warning=True)
    mode = stat.S_IMODE(info.st_mode)
    problems, mends, fix = [], [], ""
    if mode & 0o022:
        problems.append(
            "writable by group or others: a student who can reach it can rename the secret ledger away (then no "
            "secret has a recorded owner: whose feedback is whose is lost) and edit the source notebooks and the "
            "gradebook"
        )
        mends.append("go-w")
    if readers is None or readers:
        who = "others" if readers is None else f"accounts besides its owner ({accounts.shown(readers)})"
        problems.append(
            f"readable or enterable by {who}: every student can read each classmate's submission secret (and fetch "
            "their feedback with it) and the solutions and hidden tests in source/"
        )
        acl_here = course in accounts.acl_folders  # chmod g-rwx sets its ACL's mask: no named entry lets anyone in
        mends += ["g-rwx"] if mode & 0o050 and (accounts.others_in(info.st_gid) or acl_here) else []
        mends += ["o-rwx"] if mode & 0o005 else []
        if readers:  # named: in its group, or in the group of a folder above it that lets them through
            fix = "; or keep its group, and the groups of the folders above it, to instructors only"
        if readers and accounts.acl_folders:
            listed = " ".join(str(folder) for folder in accounts.acl_folders)
            fix += f"; and remove the ACL entries that let students in (`getfacl {listed}`; `setfacl -x`)"
    fixes = [f"`chmod {','.join(mends)} {course}`{fix}"] if mends else []
    problems = [f"mode {mode:04o}: " + "; ".join(problems)] if problems else []
    if above:
        problems.append(
            f"a folder above it can be written by accounts besides its owner and root ({'; '.join(above)}): one of "
            "them can rename the course folder away and put a folder of hers in its place, whose nbgrader_config.py "
            "the next lrcourse command here runs as whoever runs it (root too)"
        )
        fixes += above_mends
    if not problems:
        return Check(name)
    return Check(name, "; ".join(problems), "; ".join(fixes), warning=True)


def verdict(checks: list[Check]) -> str:
    """The last line: whether students' code can be graded here, and whether a failed check stops collect, or
    nbgrader's release only."""
    failed = {check.stops for check in checks if check.failed}
    if "grading" in failed:
        return "students' code cannot be graded here"
    if "collect" in failed:
        return "students' code can be graded here, but lrcourse collect refuses this exchange (see FAIL above)"
    if failed:  # "release": a folder others may write in, which collect does not use (R20e2 M1)
        return (
            "students' code can be graded here, but nbgrader's release refuses this exchange (see FAIL above; "
            "lrcourse collect does not refuse it)"
        )
    return "students' code can be graded here"


def diagnose(course: Path, waiting=lambda text: None) -> Iterator[Check]:
    """Every check, in order, each as it ends; the live ones only when the sandbox's tools are there, announced
    through `waiting` (they can take minutes on a busy machine, and a silent command looks hung)."""
    from lrcourse.grading.course import course_config, default_db_url
    from lrcourse.grading.doctor.exchange import exchange_root, protected_hardlinks
    from lrcourse.grading.exchange.roots_course import not_roots_own
    from lrcourse.grading.sandbox.bwrap import readable_paths
    from lrcourse.grading.sandbox.limits import Limits

    reason, mend = not_roots_own(course)  # the checks below run the course's config, as root (R20x W4)
    if reason:
        yield Check(
            "a course root owns is root's through and through (as root)",
            reason,
            mend or "give --course the course's folder",
        )
        return
    yield exchange_root(course)
    yield protected_hardlinks()
    yield private_homes()
    yield course_folder_closed(course)
    checks = sandbox_tools()
    yield from checks
    if any(check.failed for check in checks):
        return
    try:
        limits = Limits.from_config(course_config(course, default_db_url(course)))  # the course's c.Sandbox.*
    except Exception as error:  # a limit that is not a whole number, an unknown key, a config that fails
        fix = f"correct c.Sandbox in {course / 'nbgrader_config.py'}"
        yield Check("the course's sandbox limits", one_line(f"{type(error).__name__}: {error}"), fix)
        return
    paths = [str(path) for path in readable_paths()] + [sys.executable]
    yield cgroups(limits)
    waiting(
        "starting one sandboxed answer process and one sandboxed kernel, as a grading worker does "
        f"(each imports PyTorch: up to {PROBE_SECONDS:.0f} s each on a busy machine)..."
    )
    yield answer_process(limits, paths)
    yield kernel(limits, paths)
