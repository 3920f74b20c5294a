"""Which files of the learner's folder each cell the kernel runs opens to read (issue 23, R23o W3).

The grader runs the saved notebook alone: no file of the learner's folder is beside it there. An answer cell that
reads one (`open("g.txt")`, `Path(...).read_text()`, `np.load`, `torch.load`, `json.load`, a module beside the
notebook imported) passes in the kernel and stops in the grade. Python's own ways of opening a file raise its "open"
audit event, so one hook (`sys.addaudithook`) sees them, whatever Python function the cell called. It does not see
what reads without that event: C code opening a file itself (`torch.from_file`, `sqlite3.connect`), another process
(`subprocess`, `os.system`), the environment (`os.environ`), or a value taken from a file's name (`os.listdir`). The
checks refuse, by the cell's text, the lookups by a string or in the kernel's namespace that they list
(`checking.hidden_lookups`: eval, `sys.modules`, `__main__`, a frame's `f_globals`, IPython's `user_ns`, through the
cell's import aliases), not one through a value they cannot follow (`s = sys`). The hook cannot be removed: it
records only while a cell runs (the shell's pre_run_cell and post_run_cell events set and clear the cell it records
for), only in the cell's own thread and the threads started while it ran (a log watcher an earlier cell started is
not the cell's, R23q M1; what a thread reads after the cell has ended is not recorded at all), only files opened for
reading under the folder the kernel started in (`kernel_folder`), and only a few per cell. Not a file the run wrote
before it read it (R23s W4a: `torch.save` then `torch.load` of a checkpoint; the grader's run writes it too): one it
opened to create or empty, or one changed since the cell began (a writer in C raises no "open" event; so a file
another process, or an earlier cell's thread writing from C, changes meanwhile passes as the cell's), but for one that
held content before the cell began and that the cell appended to: what it held is the folder's (R23t N3: g.json, an
earlier cell's, appended to and then read; in the grader the append creates it). Each record is
the file, the line of the cell's top-level code then running (a function the cell calls reads at the line of its
call; a read on another thread, at the line the cell's own thread is running then): a check can tell a read before
the answer is bound from one after it, and the code objects on the stack: a function answer's code among them, the
read was that function's (its cell's top-level code after the `def` is not, R23q W2).
"""

from __future__ import annotations

import os
import site
import sys
import threading
import time
from dataclasses import dataclass, field

KEPT_PER_CELL = 20
KEPT_WRITTEN = 1000  # the files a cell wrote, kept while it runs
PACKAGE = os.path.dirname(os.path.abspath(__file__))  # the course's own code: what it reads is not the answer's
LIBRARIES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
KEPT_CELLS = 200  # the latest cells' records: a test cell reading the notebook adds one each run


def kernel_folder(shell) -> str:
    """The folder holding the kernel's notebook: where the kernel started (IPython's first directory, `_dh[0]`, which
    `%cd` leaves as it was), else the working folder."""
    history = shell.user_ns.get("_dh") if shell is not None else None
    first = history[0] if isinstance(history, list) and history else None  # a Path (IPython 9), or a str
    first = os.fspath(first) if isinstance(first, (str, os.PathLike)) else None
    return first if isinstance(first, str) and os.path.isdir(first) else os.getcwd()


def inside(path: str, folder: str) -> bool:
    """`path` is `folder` or lies under it, as written or once links are followed."""
    for there, root in (
        (os.path.abspath(path), os.path.abspath(folder)),
        (os.path.realpath(path), os.path.realpath(folder)),
    ):
        try:
            if os.path.commonpath([there, root]) == root:
                return True
        except ValueError:  # one absolute path on another drive
            continue
    return False


def of_the_learner(path: str, folder: str) -> bool:
    """`path` lies in the learner's `folder` and is no installed library's (a virtual environment inside the folder is
    the grader's too: it has the same packages)."""
    return inside(path, folder) and not any(inside(path, prefix) for prefix in (*LIBRARIES, site.getuserbase()))


@dataclass
class FilesRead:
    """The files of the learner's folder each cell opened to read: `by_cell[n]` lists (path, line, the code objects on
    the stack) for In[n]."""

    shell: object
    running: list | None = None  # the records of the cell running now, None between cells
    by_cell: dict = field(default_factory=dict)
    busy: bool = False
    earlier_threads: frozenset = frozenset()  # the threads alive when the cell began, its own aside: not the cell's
    cell_thread: int | None = None
    started: int = 0  # when the cell began (time.time_ns)
    written: set = field(default_factory=set)  # the files the cell's run opened to create or truncate
    elsewhere: set = field(default_factory=set)  # those an earlier cell's thread did while the cell ran
    appended: set = field(default_factory=set)  # the files the cell's run appended to that held content before it

    def before_cell(self, *_) -> None:
        """Hold the threads alive now as objects: a thread's id is reused once it ends (a thread the cell starts may
        get an earlier one's), an object held is not (R23r N4)."""
        own = threading.current_thread()
        self.earlier_threads = frozenset(thread for thread in threading.enumerate() if thread is not own)
        self.cell_thread = threading.get_ident()
        self.started, self.written, self.elsewhere, self.appended = time.time_ns(), set(), set(), set()
        self.running = []

    def after_cell(self, result=None) -> None:
        """The cell's records under its number (the result's: IPython 9 counts the cell before pre_run_cell, 8 after)."""
        count, self.running = getattr(result, "execution_count", None), (records := self.running)
        self.running = None
        if isinstance(count, int) and records:
            self.by_cell[count] = records
            while len(self.by_cell) > KEPT_CELLS:
                del self.by_cell[next(iter(self.by_cell))]

    def opened(self, args: tuple, opener) -> None:
        """An "open" audit event's arguments, raised by the code of frame `opener`: never raises (an exception here
        would stop the learner's own `open`). A thread alive when the cell began (a log watcher an earlier cell
        started) reads for itself, not for the cell (R23q M1), and what it writes is not the cell's."""
        if self.running is None or self.busy:
            return
        self.busy = True
        try:
            if threading.current_thread() not in self.earlier_threads:
                self._note(*args[:3], opener)
            elif isinstance(args[0], (str, bytes, os.PathLike)) and _creates(*args[1:3]):
                _kept(self.elsewhere, os.path.abspath(os.fsdecode(args[0])))
        except Exception:  # a record missed is a check not made, never a learner's error
            pass
        finally:
            self.busy = False

    def _note(self, path, mode, flags, opener) -> None:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # a file descriptor: opened before
        path = os.path.abspath(os.fsdecode(path))
        if _creates(mode, flags):  # its content from now on is this run's: a read of it later in the run is no loss
            _kept(self.written, path)
            self.appended.discard(path)
            return
        if _appends(mode, flags) and path not in self.written and _held_before(path, self.started):
            _kept(self.appended, path)  # R23t N3: a later read of it reads what it held, the folder's
        if isinstance(mode, str) and not any(letter in mode for letter in "r+"):
            return  # written only: what the grader lacks is what the cell reads
        if mode is None and isinstance(flags, int) and flags & os.O_WRONLY:
            return
        if len(self.running) >= KEPT_PER_CELL or not of_the_learner(path, kernel_folder(self.shell)):
            return
        folders = path in self.elsewhere or path in self.appended  # changed since, but what it holds is not the run's
        if path in self.written or (not folders and _changed_since(path, self.started)):
            return  # written earlier in this run (R23s W4a: torch.save, then torch.load, in lr_range_test)
        if not _courses_read(opener):
            line = _cell_line(opener)
            if line is None and threading.get_ident() != self.cell_thread:
                line = _cell_line(sys._current_frames().get(self.cell_thread))
            self.running.append((path, line, _code_files(opener)))


def _kept(paths: set, path: str) -> None:
    if len(paths) < KEPT_WRITTEN:
        paths.add(path)


def _creates(mode, flags) -> bool:
    """An open that creates or empties the file (`w`, `x`; `O_TRUNC`, `O_CREAT | O_EXCL`): what it holds after is
    what the code that opened it writes."""
    if isinstance(mode, str):
        return "w" in mode or "x" in mode
    if mode is None and isinstance(flags, int):
        return bool(flags & os.O_TRUNC) or flags & (os.O_CREAT | os.O_EXCL) == os.O_CREAT | os.O_EXCL
    return False


def _appends(mode, flags) -> bool:
    """An open that writes at the file's end (`a`; `O_APPEND`), keeping what it held."""
    if isinstance(mode, str):
        return "a" in mode
    return mode is None and isinstance(flags, int) and bool(flags & os.O_APPEND)


def _held_before(path: str, started: int) -> bool:
    """`path` exists, holds something, and was last modified before `started` (ns): an earlier cell's content."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return False
    return status.st_size > 0 and status.st_mtime_ns < started


def _changed_since(path: str, started: int) -> bool:
    """`path` was modified at or after `started` (ns): written during the cell's run, by any means (`torch.save`
    writes from C++, raising no "open" event). File times come from a coarse clock, a few ms behind: a write just
    after the cell began may read as earlier, and the read is then kept (the check refuses, as without this)."""
    try:
        return started > 0 and os.stat(path).st_mtime_ns >= started
    except (OSError, ValueError):
        return False


def _cell_line(frame) -> int | None:
    """The line of the cell's own top-level code running now (the frame IPython's `run_code` executes, `frame` or
    one it was called from), or None."""
    while frame is not None:
        caller = frame.f_back
        if (
            frame.f_code.co_name == "<module>"
            and caller is not None
            and caller.f_code.co_name == "run_code"
            and "IPython" in caller.f_code.co_filename
        ):
            return frame.f_lineno
        frame = caller
    return None


def _courses_read(frame) -> bool:
    """The code that opened the file (`frame`), past the libraries it went through (`np.load`, `pathlib`), is the
    course's own (a check reading the notebook, the run cache, the failure handler), not the learner's: a function of
    the learner's that a check calls is the learner's."""
    while frame is not None:
        file = frame.f_code.co_filename
        if file.startswith(PACKAGE + os.sep):
            return True
        if not file.startswith(LIBRARIES) and not file.startswith("<frozen "):
            return False
        frame = frame.f_back
    return False


def _code_files(frame) -> frozenset:
    """The code objects on the stack from `frame` (the code that opened), up to 200: a function's own code, not merely
    its cell's file (the cell's top-level code after the `def` shares that file: R23q W2)."""
    codes = set()
    while frame is not None and len(codes) < 200:
        codes.add(frame.f_code)
        frame = frame.f_back
    return frozenset(codes)


def record_files_read(ipython) -> None:
    """Record, in `ipython.lrcourse_files_read`, the files of the learner's folder each cell reads; once per shell."""
    if getattr(ipython, "lrcourse_files_read", None) is not None:
        return
    ipython.lrcourse_files_read = recorder = FilesRead(ipython)
    ipython.events.register("pre_run_cell", recorder.before_cell)
    ipython.events.register("post_run_cell", recorder.after_cell)

    def heard(event: str, args: tuple) -> None:
        """The audit hook, a plain function that returns at once but for "open": Python calls it on every audit event,
        hundreds per redraw of chapter 6's sliders, nearly all `builtins.id` (a bound method called with all of them
        cost about 1.3 us an event, this about 0.1; issue 23, R23q N2)."""
        if event == "open":
            recorder.opened(args, sys._getframe(1))

    sys.addaudithook(heard)
