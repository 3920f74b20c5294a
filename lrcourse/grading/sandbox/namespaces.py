"""Namespaces of its own for each student's process inside a zygote's sandbox (standard library only).

A zygote (kernel_zygote.py, answer_zygote.py) serves one student after another from a single sandbox.
Before a child runs a student's code it calls `enter_own_namespaces()`: the child that forks next is the
first process of a new user, PID, IPC and mount namespace, so it

- can signal nothing of the zygote (which has no PID in its namespace), and everything it starts dies with it
  (PID); it still sees the zygote's processes listed in the sandbox's /proc, with their command lines and
  status but not their memory, environment or open files (a /proc of its own cannot be mounted under
  bubblewrap's covers of /proc/sys and the like: the kernel refuses a user namespace such a mount);
- shares no System V shared memory, semaphores or POSIX message queues with any other student (IPC):
  what it leaves there is gone with it, instead of staying charged to the sandbox's memory;
- gets, through `private_tmp()`, a `/tmp` of its own (a fresh tmpfs, thrown away with it), so nothing it
  writes there, however it protects it, is seen by the next student; what the sandbox bound under /tmp
  (a course checked out there: its virtual environment, the course package) is bound back into it as it was.

The user namespace maps the process's own user id to itself (no other id, no privilege outside), which
lets it mount in its own mount namespace.

The zygotes' own side is here too: `not_dumpable()`, `die_with_parent()`, and `sweep_sandbox()`, which
ends whatever a student left running in the zygote's sandbox between two students.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import time

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x08000000, 0x10000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def kill_quietly(pid: int, signum: int = signal.SIGKILL, group: bool = False) -> None:
    """Send `signum` to a process (or, with `group`, its process group) that may already be gone."""
    try:
        (os.killpg if group else os.kill)(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


MS_NOEXEC, MNT_DETACH, UMOUNT_NOFOLLOW = 8, 2, 8


def mount_tmpfs(folder, size_mb: int) -> bool:
    """A tmpfs of `size_mb` on `folder` (nosuid, nodev, noexec); whether it worked (root only)."""
    options = f"size={size_mb}m,mode=0755".encode()
    return _libc().mount(b"tmpfs", str(folder).encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) == 0


def unmount(folder) -> None:
    """Detach whatever is mounted on `folder`, if anything; never through a link at `folder` (r20ad W2)."""
    _libc().umount2(str(folder).encode(), MNT_DETACH | UMOUNT_NOFOLLOW)


def enter_own_namespaces() -> None:
    """Unshare user, PID, IPC and mount namespaces; the next child forked is the PID namespace's first."""
    _leave_session_keyring()
    _unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS)


def private_tmp(size_mb: int) -> None:
    """A fresh, size-limited tmpfs on /tmp, seen only in this mount namespace (after `enter_own_namespaces`), with
    whatever the sandbox had mounted below /tmp bound back as it was (read-only stays read-only), then one more
    user and mount namespace: in it every mount so far is locked, so the student's code
    (which keeps the capabilities of its innermost namespace) can neither unmount this /tmp, to reach the
    sandbox's own below it, nor remount it larger."""
    libc = _libc()
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount --make-rprivate /: {os.strerror(error)}")
    # What the sandbox bound under /tmp (a virtual environment, the course package, of a course checked out
    # there) stays where it was: held open before the fresh tmpfs hides it, bound back, flags and all, after.
    kept = {point: os.open(point, os.O_PATH) for point in mounts_under("/tmp")}
    options = f"size={size_mb}m,mode=1777".encode()
    if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount tmpfs /tmp: {os.strerror(error)}")
    for point, held in kept.items():
        _bind_back(held, point)
    _unshare(CLONE_NEWUSER | CLONE_NEWNS)
    _no_more_privilege()


MS_BIND = 4096


def mounts_under(folder: str) -> list[str]:
    """The outermost mount points below `folder` in this mount namespace (what lies under them comes along)."""
    points = []
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            point = _unescape(line.split()[4].decode())
            if point.startswith(folder.rstrip("/") + "/") and point not in points:
                points.append(point)
    return [point for point in points if not any(point.startswith(other + "/") for other in points)]


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash are written as octal escapes."""
    for code in ("040", "011", "012", "134"):
        field = field.replace("\\" + code, chr(int(code, 8)))
    return field


def _bind_back(held: int, point: str) -> None:
    """Bind what `held` (an O_PATH descriptor) opens at `point` again, its mounts below included; the
    bind keeps its source's flags (read-only stays read-only)."""
    if os.path.isdir(f"/proc/self/fd/{held}"):
        os.makedirs(point, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(point), mode=0o755, exist_ok=True)
        os.close(os.open(point, os.O_CREAT | os.O_WRONLY, 0o644))
    source = f"/proc/self/fd/{held}".encode()
    if _libc().mount(source, point.encode(), None, MS_BIND | MS_REC, None) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"bind {point} back over the private /tmp: {os.strerror(error)}")
    os.close(held)


def _no_more_privilege() -> None:
    """No further user namespace, then no capability: the student's code can mount nothing, not even a larger
    tmpfs over /tmp (its innermost namespace would otherwise let it)."""
    with open("/proc/sys/user/max_user_namespaces", "w") as limit:
        limit.write("0")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    libc = _libc()
    PR_CAPBSET_DROP, CAP_LAST = 24, 63
    for capability in range(CAP_LAST + 1):
        libc.prctl(PR_CAPBSET_DROP, capability)  # fails past the kernel's last capability: nothing to drop
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3: two words, all zero
    if libc.capset(ctypes.byref(header), data) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"capset: {os.strerror(error)}")


def _unshare(flags: int) -> None:
    """Unshare, with a user namespace that maps this process's own ids to themselves."""
    uid, gid = os.getuid(), os.getgid()
    # A zygote is not dumpable (no student may read its memory), and a process that is not has its /proc
    # files owned by root: it could not write its own uid_map. Dumpable just for that, then not again: the
    # sandbox's /proc would otherwise let the student's process open this one's memory.
    libc = _libc()
    libc.prctl(PR_SET_DUMPABLE, 1)
    try:
        if libc.unshare(flags) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"unshare: {os.strerror(error)}")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    finally:
        libc.prctl(PR_SET_DUMPABLE, 0)


KEYCTL_SYSCALL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1


def _leave_session_keyring() -> None:
    """A new, empty session keyring (as runc does): nothing of the grader's keys is reachable."""
    number = KEYCTL_SYSCALL.get(os.uname().machine)
    if number is not None:
        _libc().syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None)


# --------------------------------------------------------------------------------------------
# The zygote's side
# --------------------------------------------------------------------------------------------
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


def not_dumpable() -> None:
    """No student's process may ptrace this one or read its memory through /proc (same user id)."""
    try:
        _libc().prctl(PR_SET_DUMPABLE, 0)
    except (OSError, AttributeError):
        pass


def die_with_parent(signum: int) -> None:
    """Receive `signum` when the parent ends."""
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signum)
    except (OSError, AttributeError):
        pass


def sweep_sandbox(folders=("/tmp", "/dev/shm")) -> None:
    """Kill every process in this sandbox's PID namespace but its init and the caller; empty `folders`."""
    for _ in range(100):  # again until none is left: one may have forked between the listing and the kill
        others = [
            int(name)
            for name in os.listdir("/proc")
            if name.isdigit() and int(name) not in (1, os.getpid()) and not _zombie(name)
        ]
        if not others:
            break
        for pid in others:
            kill_quietly(pid)
        time.sleep(0.002)
    for folder in folders:
        kept = mounts_under(folder) if os.path.isdir(folder) else []
        for entry in os.listdir(folder) if os.path.isdir(folder) else []:
            path = os.path.join(folder, entry)
            if any(point == path or point.startswith(path + "/") for point in kept):
                continue  # the sandbox's own read-only mounts (a virtual environment under /tmp)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _zombie(pid: str) -> bool:
    """Dead already, waiting for its parent to collect it (or gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True
