"""The sandbox every student's code runs in while a class is graded: bubblewrap, cgroups and rlimits.

Under `lrcourse grade` and `lrcourse check`, each worker's kernel zygote (which forks the kernel of each
student's notebook, `kernel_zygote.py`) and each worker's answer zygote (the processes that run a
student's answers for the trusted verdicts, `answer_zygote.py`) start inside `Sandbox.command(...)`:

- bubblewrap (`bwrap`) builds a new mount, PID, network, IPC and UTS namespace. The file system holds only
  the Python installation and the virtual environment and the course package (read-only, wherever they are:
  under /tmp, each student's private /tmp binds them back, `namespaces.private_tmp`), a private `/tmp`,
  and, writable, a scratch folder (the kernel zygote's holds a copy of the notebook's folder while its
  kernel runs, at /notebook): nothing of `source/`, `submitted/`,
  `autograded/`, `feedback/`, the gradebook, other students or anyone's home;
- the network namespace is empty (the kernel talks to nbgrader over Unix sockets in a folder bound in);
- in its own PID namespace it sees and can signal nothing of the grader, and when the sandbox's first
  process ends (`--die-with-parent` also when the grader dies), the kernel kills everything left in it
  (inside, each student's kernel or answer process gets a user and PID namespace of its own again);
- it runs as a user without privileges: as root, bubblewrap starts privileged and `setpriv` drops to a
  user id of its own with no capabilities and `no_new_privs`; as any other user, bubblewrap maps it to
  `nobody` in a user namespace (and the instructor's files outside stay out of view);
- limits (`Limits`, set in nbgrader_config.py as `c.Sandbox.<name>`): memory and processes for the whole
  sandbox through cgroups when the grader may create them (root), per process through rlimits otherwise (each
  limit whose controller has no group: not root, or a controller not delegated, `cgroups.make_cgroups`);
  written file size, CPU time and open files through rlimits; the wall clock by the grader, which kills
  the sandbox.

The grader copies nothing back: nbgrader keeps the executed notebook in its own memory, and the scratch
folder is deleted with the sandbox.
"""

from __future__ import annotations

import itertools
import os
import resource
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import lrcourse
from lrcourse.grading.sandbox.cgroups import distinct, group_name, make_cgroups, memory_settings, oom_kills, remove
from lrcourse.grading.sandbox.limits import Limits
from lrcourse.grading.sandbox.namespaces import kill_quietly
from lrcourse.grading.sandbox.sandbox_uid import free_uid
from lrcourse.grading.sandbox.tree_removal import remove_tree

_COUNTER = itertools.count()


# What selects the kernels float32 arithmetic runs on: a student's process computes with the same ones as the
# grader's judges that compare with it (lrcourse/tolerances.py).
ARITHMETIC_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)


def arithmetic_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in ARITHMETIC_VARIABLES if name in os.environ}


def sandbox_environment(home: str = "/tmp") -> dict[str, str]:
    """The whole environment a sandbox's processes start with (`--clearenv`, then these): nothing of the grader's but
    the arithmetic's variables. `home`: HOME, and matplotlib's folder under it (the saved-notebook check, unsandboxed,
    gives its scratch folder: `lrcourse.saved_check`)."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        **arithmetic_environment(),
    }


def data_ceiling() -> str:
    """RLIMIT_DATA's hard limit, as prlimit takes it: a sandbox's soft limit is raised back to it."""
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    return "unlimited" if hard == resource.RLIM_INFINITY else str(hard)


class SandboxUnavailable(RuntimeError):
    pass


def missing_for_sandbox() -> list[tuple[str, str]]:
    """What keeps a sandbox from being built here, each as (what is wrong, how to fix it); [] when nothing."""
    if not sys.platform.startswith("linux"):
        return [("students' code is sandboxed with bubblewrap, which needs Linux", "grade on a Linux machine")]
    missing = [
        (f"{what} is not installed", f"`apt-get install {package}` (Debian/Ubuntu)")
        for what, package, needed in (
            ("bubblewrap", "bubblewrap", "bwrap"),
            ("setpriv (util-linux)", "util-linux", "setpriv" if os.geteuid() == 0 else None),
            ("prlimit (util-linux)", "util-linux", "prlimit"),
        )
        if needed and not shutil.which(needed)
    ]
    # Every student's process gets a user namespace of its own inside the sandbox (namespaces.py), root or not.
    for switch, fix in (
        ("/proc/sys/user/max_user_namespaces", "sysctl -w user.max_user_namespaces=15000"),
        ("/proc/sys/kernel/unprivileged_userns_clone", "sysctl -w kernel.unprivileged_userns_clone=1"),
    ):
        if Path(switch).is_file() and Path(switch).read_text().strip() == "0":
            missing.append((f"user namespaces are switched off ({switch} is 0)", f"`{fix}` (as root)"))
    return missing


def check_available() -> None:
    """Raise SandboxUnavailable saying what to install when a sandbox cannot be built here."""
    missing = missing_for_sandbox()
    if missing:
        problem, fix = missing[0]
        raise SandboxUnavailable(f"{problem}: {fix}")


def readable_paths() -> list[Path]:
    """The Python installation, the virtual environment and the course package: read-only inside."""
    paths = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
        Path(lrcourse.__file__).resolve().parent,
    }
    paths |= {Path(p).resolve() for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
    return sorted(paths)


class Sandbox:
    """One sandbox: `command(argv)` starts argv inside it; `kill()` ends everything in it; `close()` cleans up.

    `scratch_from` is copied into a scratch folder that appears, writable, at `mount_at` (the student's
    notebook folder, so relative paths work); `sockets` is a folder bound in writable for Unix sockets;
    `hide` maps files to what appears in their place (a stub module, for instance).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        scratch_from: Path | None = None,
        mount_at: Path | None = None,
        sockets: Path | None = None,
        hide: dict[Path, Path] | None = None,
        scratch_writable: bool = True,
    ):
        self.limits = limits or Limits()
        self.number = next(_COUNTER)
        self.root = os.geteuid() == 0
        self.uid = free_uid() if self.root else os.geteuid()
        self.home = Path(tempfile.mkdtemp(prefix=f"lrcourse-sandbox-{os.getpid()}-"))
        self.scratch = None
        self.scratch_writable = scratch_writable
        self.mount_at = mount_at
        if mount_at is not None:  # a copy of `scratch_from`, or an empty folder
            self.scratch = self.home / "scratch"
            if scratch_from is not None:
                shutil.copytree(scratch_from, self.scratch, symlinks=True, ignore=shutil.ignore_patterns(".lrcourse-*"))
            else:
                self.scratch.mkdir()
            self.give(self.scratch)
        self.sockets = sockets
        self.hide = hide or {}
        self.cgroups = self._make_cgroups() if self.root else {}
        self.hit: str | None = None  # which limit stopped it, once known

    def give(self, folder: Path) -> None:
        """Make the sandbox's user the owner of a folder it may write."""
        if not self.root:
            return
        for path in [folder, *folder.rglob("*")]:
            os.lchown(path, self.uid, self.uid)

    # --------------------------------------------------------------------------------------------
    def command(self, argv: list[str], cwd: Path | None = None, env: dict | None = None) -> list[str]:
        limits = self.limits
        cwd = cwd or self.mount_at or Path("/tmp")
        binds = []
        mounted = [
            *readable_paths(),
            *([self.mount_at] if self.scratch is not None else []),
            *([self.sockets] if self.sockets is not None else []),
        ]
        for folder in sorted(
            {parent for path in mounted for parent in path.parents if parent != Path("/")}, key=lambda p: len(p.parts)
        ):
            binds += ["--perms", "0755", "--dir", str(folder)]  # traversable by the sandbox's user
        for path in readable_paths():
            binds += ["--ro-bind", str(path), str(path)]
        for path in self.hide and sorted(self.hide):
            binds += ["--ro-bind", str(self.hide[path]), str(path)]
        if self.scratch is not None:
            binds += ["--bind" if self.scratch_writable else "--ro-bind", str(self.scratch), str(self.mount_at)]
        if self.sockets is not None:
            binds += ["--bind", str(self.sockets), str(self.sockets)]
        environment = {**sandbox_environment(), **(env or {})}
        setenv = [arg for key, value in environment.items() for arg in ("--setenv", key, value)]
        bwrap = [
            "bwrap",
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--hostname",
            "sandbox",
            "--clearenv",
            *setenv,
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/sbin",
            "/sbin",
            "--perms",
            "0755",
            "--dir",
            "/etc",
            "--ro-bind-try",
            "/etc/ld.so.cache",
            "/etc/ld.so.cache",
            "--ro-bind-try",
            "/etc/fonts",
            "/etc/fonts",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--size",
            str(limits.tmp_mb << 20),
            "--tmpfs",
            "/tmp",
            *binds,
            "--chdir",
            str(cwd),
        ]
        if not self.root:
            bwrap[1:1] = ["--unshare-user", "--uid", "65534", "--gid", "65534"]
        rlimits = [
            "prlimit",
            f"--fsize={limits.file_size_mb << 20}",
            f"--cpu={limits.cpu_seconds}",
            f"--nofile={limits.open_files}",
            "--core=0",
            f"--data={data_ceiling()}",  # the worker's own cap (worker_memory) is not the sandbox's
        ]
        if "memory" not in self.cgroups:  # each limit a cgroup does not hold, per process instead
            rlimits.append(f"--as={limits.memory_mb << 20}")
        if "pids" not in self.cgroups:
            rlimits.append(f"--nproc={max(limits.processes, 4096 if not self.root else 0)}")
        drop = (
            [
                "setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
            ]
            if self.root
            else []
        )
        return [*self._enter_cgroups(), *bwrap, "--", *drop, *rlimits, "--", *argv]

    # --------------------------------------------------------------------------------------------
    def _make_cgroups(self) -> dict[str, Path]:
        """A memory, a pids and a cpu cgroup (v1 or v2) for this sandbox, those the grader may create."""
        name = group_name(os.getpid(), self.number)
        period = 100_000
        settings = {
            "memory": memory_settings(self.limits.memory_mb << 20),
            "pids": [("pids.max", self.limits.processes)],
            "cpu": [
                ("cpu.cfs_period_us", period),
                ("cpu.cfs_quota_us", self.limits.cpus * period),
                ("cpu.max", f"{self.limits.cpus * period} {period}"),
            ],
        }
        return make_cgroups(name, settings)

    def _enter_cgroups(self) -> list[str]:
        """A shell that puts itself into the sandbox's cgroups, then becomes bubblewrap: everything started
        inside is counted from its first instruction."""
        if not self.cgroups:
            return []
        # `&&`: a join that fails stops the start (a sandbox without that limit would run, and without its rlimit)
        joins = " && ".join(f"echo $$ > {group / 'cgroup.procs'}" for group in distinct(self.cgroups))
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh"]

    def counts(self) -> tuple[int, int]:
        """How often so far a process here was killed for memory, and a fork refused for the process limit."""
        pids = self.cgroups.get("pids")
        try:
            refused = int((pids / "pids.events").read_text().split()[1]) if pids is not None else 0  # "max N"
        except (OSError, ValueError, IndexError):
            refused = 0
        return oom_kills(self.cgroups.get("memory")), refused

    def limit_hit(self, since: tuple[int, int] = (0, 0)) -> str | None:
        """Which cgroup limit stopped something in this sandbox (after the counts `since`), if any."""
        killed, refused = self.counts()
        if killed > since[0]:
            return f"memory limit ({self.limits.memory_mb} MB)"
        if refused > since[1]:
            return f"process limit ({self.limits.processes} processes)"
        return None

    def kill(self) -> None:
        """End every process in the sandbox (its cgroup's members, when there is one)."""
        for group in distinct(self.cgroups):
            try:
                for pid in map(int, (group / "cgroup.procs").read_text().split()):
                    if pid > 0:  # 0: a member outside this PID namespace (kill(0) would hit the grader's group)
                        kill_quietly(pid)
            except OSError:
                pass

    def close(self) -> None:
        self.kill()
        for group in distinct(self.cgroups):
            remove(group, tries=50)
        self.cgroups = {}
        remove_tree(self.home)  # the student's, however deep (r20ad W1)


def stub_for_lr_scheduler() -> dict[Path, Path]:
    """torch.optim.lr_scheduler's file (and its compiled copy) replaced by the stub in the answers' sandbox."""
    import importlib.util

    from lrcourse.grading.sandbox import no_lr_scheduler

    spec = importlib.util.find_spec("torch")
    optim = Path(spec.origin).parent / "optim"
    stub = Path(no_lr_scheduler.__file__)
    hidden = {}
    for folder in {optim, optim.resolve()}:  # a virtual environment reached through a link shows both paths
        hidden[folder / "lr_scheduler.py"] = stub
        for compiled in (folder / "__pycache__").glob("lr_scheduler.*.pyc"):
            hidden[compiled] = Path("/dev/null")
    return hidden
