"""One worker's kernel zygote forks the kernel of every notebook it grades: each kernel runs the notebook as
a fresh one would, and nothing one notebook does reaches the next. Notebooks are run here the way
nbgrader's execute step runs them (nbclient with the worker's kernel manager class), in the sandbox and
without it; the attacks are those a student could aim at a process shared with classmates."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import uuid
from ast import literal_eval
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook

from lrcourse.grading.sandbox import kernels
from lrcourse.grading.sandbox.limits import Limits

from support import hostile
from support.paths import ROOT

pytestmark = pytest.mark.slow
MARK = uuid.uuid4().hex[:12]


# The kernels the test in progress runs its notebooks in (a grading worker keeps its own in its Worker).
CURRENT: dict[str, kernels.Kernels] = {}


def _started(limits) -> kernels.Kernels:
    return kernels.Kernels(kernels.KernelZygoteHandle(limits), Limits(wall_seconds=60))


@pytest.fixture(params=["sandboxed", "unsandboxed"])
def zygote(request, sandboxed_kernels):
    if request.param == "sandboxed":
        CURRENT["kernels"] = sandboxed_kernels
        yield sandboxed_kernels.handle
        return
    unsandboxed = CURRENT["kernels"] = _started(None)
    yield unsandboxed.handle
    unsandboxed.close()
    CURRENT.clear()


@pytest.fixture(scope="module")
def sandboxed_kernels():
    sandboxed = _started(Limits())
    yield sandboxed
    sandboxed.close()
    CURRENT.clear()


@pytest.fixture
def sandboxed_zygote(sandboxed_kernels):
    CURRENT["kernels"] = sandboxed_kernels
    return sandboxed_kernels.handle


HISTORY_WARNING = (  # IPython's own words, wherever its thread's print lands
    r"The history saving thread hit an unexpected error \(.*?\)\.History will not be written to the database\.\n?"
)


def run(folder: Path, *sources: str, timeout: int = 30) -> list[str]:
    """Run the cells in a forked kernel with `folder` as the notebook's folder; each cell's printed text (IPython's
    warning that its history cannot be written, which may land between two prints, left out)."""
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(
        notebook,
        kernel_manager_class=CURRENT["kernels"].manager_class(),
        timeout=timeout,
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute()
    except DeadKernelError:  # an attack that killed its own kernel: what it printed before counts
        pass
    CURRENT["kernels"].limit_hit(folder)  # as the grader does after each notebook
    return [
        re.sub(HISTORY_WARNING, "", "".join(out.get("text", "") + out.get("ename", "") for out in cell.outputs))
        for cell in notebook.cells
    ]


def zygote_processes(zygote: kernels.KernelZygoteHandle) -> list[int]:
    """This zygote and its keepers and kernels (forks of it share its command line), seen from outside:
    the Python processes below the process that started it (other tests may run zygotes of their own)."""
    parents, found = {}, []
    for name in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    top = zygote.process.pid if zygote.process is not None else None
    for pid in parents:
        ancestor = pid
        while ancestor in parents and ancestor != top:
            ancestor = parents[ancestor]
        if ancestor != top or top is None:
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            argv
            and Path(argv[0].decode()).name.startswith("python")
            and b"lrcourse.grading.sandbox.kernel_zygote" in argv
        ):
            found.append(pid)
    return found


def test_a_forked_kernel_runs_the_notebook_in_its_own_folder(zygote, tmp_path):
    (tmp_path / "data.txt").write_text("from the student's folder")
    (tmp_path / f"module_{MARK}.py").write_text("VALUE = 'imported from the folder'")
    outputs = run(
        tmp_path,
        "import torch\nprint(torch.tensor([1.0, 2.0]).sum().item())",
        "print(open('data.txt').read())\nopen('written.txt', 'w').write('x')",
        f"from module_{MARK} import VALUE\nprint(VALUE)",
        "import os\nprint(os.environ.get('LRCOURSE_GRADED_KERNEL'))",  # its slider panels draw no positions ahead
    )
    assert outputs == ["3.0\n", "from the student's folder\n", "imported from the folder\n", "1\n"]
    assert (tmp_path / "written.txt").exists() == (zygote.sandbox is None), "the sandbox writes a scratch copy"


def test_an_interrupt_reaches_the_kernel_through_its_relay(zygote, tmp_path):
    outputs = run(tmp_path, "while True:\n    pass", "print('still running')", timeout=3)
    assert outputs[0] == "KeyboardInterrupt" and outputs[1] == "still running\n", outputs


def test_killing_the_relay_ends_the_kernel(zygote, tmp_path):
    if not zygote.alive():
        zygote.start()
    idle = len(zygote_processes(zygote))  # the zygote itself

    async def start_then_kill_the_relay() -> int:
        manager = CURRENT["kernels"].manager_class()()
        await manager.start_kernel(cwd=str(tmp_path))
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=30)
        running = len(zygote_processes(zygote))
        os.killpg(manager.provisioner.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while len(zygote_processes(zygote)) > idle and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        client.stop_channels()
        await manager.cleanup_resources()
        return running

    assert asyncio.run(start_then_kill_the_relay()) == idle + 2  # and the kernel's keeper, and the kernel
    assert len(zygote_processes(zygote)) == idle, "the keeper ends the kernel when its relay is gone"


LEAVE_TRACES = f"""
import os, subprocess, sys
from ipykernel import get_connection_file
for folder in ["/tmp", "/dev/shm", ".", os.path.dirname(get_connection_file())]:
    try:
        open(os.path.join(folder, "trace-{MARK}"), "w").write("x")
    except OSError as error:
        print("could not write", folder, type(error).__name__)
subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)  # trace-{MARK}"],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""
FIND_TRACES = f"""
import os
from ipykernel import get_connection_file
for folder in ["/tmp", "/dev/shm", ".", os.path.dirname(get_connection_file())]:
    if os.path.exists(os.path.join(folder, "trace-{MARK}")):
        print("FOUND file in", folder)
for name in os.listdir("/proc"):
    try:
        if "trace-{MARK}" in open(f"/proc/{{name}}/cmdline").read() and int(name) != os.getpid():
            print("FOUND process", name)
    except OSError:
        pass
print("looked")
"""
WRITE_ZYGOTE_MEMORY = (
    hostile.find_zygotes("kernel_zygote")
    + """
for _pid in _zygotes():
    try:
        _fd = os.open(f"/proc/{_pid}/mem", os.O_RDWR)
        print("OPENED the memory of", _pid)
        os.close(_fd)
    except Exception as error:
        print("denied", _pid, type(error).__name__)
"""
)
STOP_ZYGOTE = hostile.stop_zygotes("kernel_zygote")
HAUNT_LATER_KERNELS = hostile.HAUNT_LATER_PROCESSES


def test_nothing_one_notebook_leaves_reaches_the_next(sandboxed_zygote, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    written = run(first, LEAVE_TRACES)
    denied = written[0]
    assert "could not write /tmp" not in denied and "could not write . " not in denied, denied  # traces left
    assert run(second, FIND_TRACES) == ["looked\n"]


UNMOUNT_PRIVATE_TMP = """
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
if (_libc.umount2(b"/tmp", 2) == 0 or _libc.mount(b"tmpfs", b"/tmp", None, 32 | 2 | 4, b"size=4096m") == 0
        or _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, b"size=4096m") == 0 or _libc.unshare(0x10000000) == 0):
    print("UNMOUNTED, REMOUNTED or MOUNTED OVER the private /tmp, or made a new user namespace")
os.makedirs("/tmp/keep", exist_ok=True)
open("/tmp/keep/fill", "wb").write(b"x" * (100 << 20))
os.chmod("/tmp/keep", 0o555)
"""
BREAK_SOCKET_FOLDERS = """
import os
from ipykernel import get_connection_file
_mine = os.path.dirname(get_connection_file())
for _folder in (os.path.dirname(_mine), _mine):
    try:
        os.chmod(_folder, 0o500)
        print("chmod", _folder)
    except OSError as error:
        print("denied", type(error).__name__)
"""


@pytest.mark.parametrize("attack", ["write-zygote-memory", "stop-zygote", "haunt", "unmount-tmp", "break-sockets"])
def test_an_attack_on_the_zygote_leaves_the_next_kernel_intact(sandboxed_zygote, tmp_path, attack):
    source = {
        "write-zygote-memory": WRITE_ZYGOTE_MEMORY,
        "stop-zygote": STOP_ZYGOTE,
        "haunt": HAUNT_LATER_KERNELS,
        "unmount-tmp": UNMOUNT_PRIVATE_TMP,
        "break-sockets": BREAK_SOCKET_FOLDERS,
    }[attack]
    if not sandboxed_zygote.alive():
        sandboxed_zygote.start()
    before = sorted(zygote_processes(sandboxed_zygote))
    attacked = run(tmp_path, source + "\nimport time\ntime.sleep(0.5)")
    assert "OPENED" not in attacked[0] and "UNMOUNTED" not in attacked[0], attacked
    assert sorted(zygote_processes(sandboxed_zygote)) == before, (
        "the zygote is untouched and nothing of the kernel is left"
    )
    for _ in range(3):
        assert run(tmp_path, "import torch\nprint(torch.ones(3).sum().item())") == ["3.0\n"]


LEAVE_IPC_AND_PROTECTED_FILES = f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
segment = libc.shmget(0x4c52, 1 << 20, 0o1000 | 0o666)
ctypes.memmove(libc.shmat(segment, None, 0), b"SHM-{MARK}", 16)
queues = ctypes.CDLL("librt.so.1", use_errno=True)
queue = queues.mq_open(b"/lrcourse-{MARK}", os.O_CREAT | os.O_RDWR, 0o666, None)
queues.mq_send(queue, b"MQ-{MARK}", 15, 0)
startup = "/tmp/.ipython/profile_default/startup"
os.makedirs(startup, exist_ok=True)
open(startup + "/00-trap.py", "w").write("import builtins\\nbuiltins.TRAPPED = True\\n")
for folder in (startup, "/tmp/.ipython/profile_default", "/tmp/.ipython"):
    os.chmod(folder, 0o555)  # the sweep runs as the same user: it cannot delete inside these
print("left", segment >= 0, queue >= 0)
"""
FIND_IPC_AND_PROTECTED_FILES = f"""
import builtins, ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
queues = ctypes.CDLL("librt.so.1", use_errno=True)
print("trap ran" if getattr(builtins, "TRAPPED", False) else "no trap",
      "segment" if libc.shmget(0x4c52, 0, 0o666) >= 0 else "no segment",
      "queue" if queues.mq_open(b"/lrcourse-{MARK}", os.O_RDWR) >= 0 else "no queue",
      sorted(os.listdir("/tmp")))
"""


def test_shared_memory_queues_and_protected_files_never_reach_the_next_kernel(sandboxed_zygote, tmp_path):
    # the attacker's own kernel may also complain that its IPython history can no longer be written (the folder
    # it made read-only): only what the next kernel finds matters
    assert run(tmp_path, LEAVE_IPC_AND_PROTECTED_FILES) == ["left True True\n"]
    # a checkout under /tmp is bound read-only at its own path (the package the kernel imports): its top folder shows
    bound = [ROOT.relative_to("/tmp").parts[0]] if ROOT.is_relative_to("/tmp") else []
    left = sorted([".ipython", "notebook", *bound])
    assert run(tmp_path, FIND_IPC_AND_PROTECTED_FILES) == [f"no trap no segment no queue {left}\n"]


LOOK_AT_THE_SANDBOX = """
import os
def tried(path, read=lambda path: open(path, "rb").read(64)):
    try:
        read(path)
        return "read"
    except PermissionError:
        return "denied"
me, seen = os.readlink("/proc/self"), []
for pid in sorted((name for name in os.listdir("/proc") if name.isdigit() and name != me), key=int):
    status = open(f"/proc/{pid}/status").read()
    levels = len(next(line for line in status.splitlines() if line.startswith("NSpid:")).split()) - 1
    argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    name = "bwrap" if argv[0] == b"bwrap" else "zygote" if b"lrcourse.grading.sandbox.kernel_zygote" in argv else "?"
    files = {f: tried(f"/proc/{pid}/{f}") for f in ("environ", "maps", "mem", "auxv", "stack")}
    links = {f: tried(f"/proc/{pid}/{f}", os.readlink) for f in ("cwd", "root", "exe")}
    files["fd"] = tried(f"/proc/{pid}/fd", os.listdir)
    seen.append((name, levels, tuple(sorted(set(files.values()) | set(links.values())))))
print(os.getpid(), sorted(seen))
"""


def test_a_kernel_lists_the_sandboxs_processes_but_can_neither_read_nor_signal_them(sandboxed_zygote, tmp_path):
    """What the README says of a kernel's view: the sandbox's /proc (not its own PID namespace's) lists bwrap,
    the zygote and the keeper, with their command lines, and nothing more of them (environment, memory, open
    files, folders: denied); none has a PID in the kernel's namespace (NSpid has one level: the sandbox's),
    where the kernel is PID 1, so no signal it sends can reach them."""
    if not sandboxed_zygote.alive():
        sandboxed_zygote.start()
    (printed,) = run(tmp_path, LOOK_AT_THE_SANDBOX)
    pid, seen = printed.split(" ", 1)
    assert pid == "1", printed  # the first process of its own PID namespace
    # the zygote and this kernel's keeper (a fork of it, with its command line), and nothing else
    assert set(literal_eval(seen)) == {("bwrap", 1, ("denied",)), ("zygote", 1, ("denied",))}, printed
    assert [name for name, *_ in literal_eval(seen)].count("zygote") >= 2, printed
