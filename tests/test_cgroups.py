"""The sandboxes' cgroups (`lrcourse.grading.sandbox.cgroups`, `bwrap.Sandbox`) on an emulated cgroup file system:
which groups are made in v1 and v2, what is written, which rlimits stand in for a missing controller, and what
`close` and `leftovers` remove. Fast: no kernel, no sandbox is started (the real cgroups: test_trust_boundary.py)."""

import os
import subprocess
from pathlib import Path

import pytest

from lrcourse.grading.sandbox import bwrap, cgroups, leftovers
from lrcourse.grading.sandbox.limits import Limits

V1_MEMORY = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control"]
V2_MEMORY = ["memory.max", "memory.swap.max", "memory.events"]
PIDS = ["pids.max", "pids.events"]
V1_CPU = ["cpu.cfs_period_us", "cpu.cfs_quota_us"]


@pytest.fixture
def cgroup_fs(monkeypatch, tmp_path):
    """`emulate({hierarchy: files})` makes `tmp_path` the cgroup root: a folder made in a hierarchy gets its
    `cgroup.procs` and the files of the controllers it has, and is removed with them, as the kernel does. Returns
    the list of every rmdir tried in a hierarchy (a group removed once shows once)."""
    removals: list[Path] = []
    real_mkdir, real_rmdir = Path.mkdir, Path.rmdir

    def emulate(hierarchies: dict[str, list[str]]) -> list[Path]:
        files = {tmp_path / name: ["cgroup.procs", *names] for name, names in hierarchies.items()}
        for base in files:
            base.mkdir(exist_ok=True)
            (base / "cgroup.procs").touch()

        def mkdir(path, *args, **kwargs):
            real_mkdir(path, *args, **kwargs)
            for name in files.get(path.parent, []):
                (path / name).write_text("" if name == "cgroup.procs" else "0\n")  # no members yet

        def rmdir(path):
            if path.parent in files:
                removals.append(path)
                for file in path.iterdir():  # FileNotFoundError once gone, as the kernel's ENOENT
                    file.unlink()
            real_rmdir(path)

        monkeypatch.setattr(cgroups, "CGROUP_ROOT", tmp_path)
        monkeypatch.setattr(Path, "mkdir", mkdir)
        monkeypatch.setattr(Path, "rmdir", rmdir)
        return removals

    return emulate


@pytest.fixture
def as_root(monkeypatch):
    """The sandbox believes it runs as root (it makes cgroups only then); nothing is started."""
    monkeypatch.setattr(bwrap.os, "geteuid", lambda: 0)


def rlimits(command: list[str]) -> set[str]:
    return {arg.split("=")[0] for arg in command if arg.startswith("--") and "=" in arg}


def test_v2_makes_one_group_for_the_controllers_it_delegates_and_removes_it_once(cgroup_fs, as_root, tmp_path):
    """v2 with memory and pids delegated, cpu not: one folder holds both controllers' limits (cpu finding none of
    its files must not remove it), the sandbox's shell joins it once, and close removes it once."""
    removals = cgroup_fs({".": [*V2_MEMORY, *PIDS]})
    box = bwrap.Sandbox(Limits(memory_mb=300, processes=20))
    group = tmp_path / cgroups.group_name(os.getpid(), box.number)
    try:
        assert box.cgroups == {"memory": group, "pids": group}
        written = {name: (group / name).read_text() for name in ("memory.max", "memory.swap.max", "pids.max")}
        assert written == {"memory.max": str(300 << 20), "memory.swap.max": "0", "pids.max": "20"}
        command = box.command(["true"])
        assert command[:3] == ["/bin/sh", "-c", f'echo $$ > {group / "cgroup.procs"} && exec "$@"']
        assert not rlimits(command) & {"--as", "--nproc"}  # the group holds both
        (group / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n")
        assert box.counts() == (1, 0) and box.limit_hit() == "memory limit (300 MB)"
    finally:
        box.close()
    assert removals == [group] and not group.exists()


def test_v1_makes_a_group_in_each_controllers_hierarchy_and_removes_each_once(cgroup_fs, as_root, tmp_path):
    removals = cgroup_fs({"memory": V1_MEMORY, "pids": PIDS, "cpu": V1_CPU})
    box = bwrap.Sandbox(Limits(memory_mb=300, processes=20, cpus=2))
    name = cgroups.group_name(os.getpid(), box.number)
    groups = {controller: tmp_path / controller / name for controller in ("memory", "pids", "cpu")}
    try:
        assert box.cgroups == groups
        assert (groups["memory"] / "memory.memsw.limit_in_bytes").read_text() == str(300 << 20)
        assert (groups["cpu"] / "cpu.cfs_quota_us").read_text() == "200000"
        command = box.command(["true"])
        assert command[2] == " && ".join(f"echo $$ > {g / 'cgroup.procs'}" for g in groups.values()) + ' && exec "$@"'
        assert not rlimits(command) & {"--as", "--nproc"}
        (groups["memory"] / "cgroup.procs").unlink()
        (groups["memory"] / "cgroup.procs").mkdir()  # the memory join now fails: nothing may start
        started = subprocess.run([*command[:4], "echo", "started"], capture_output=True, text=True)
        assert started.returncode != 0 and "started" not in started.stdout
        (groups["memory"] / "cgroup.procs").rmdir()
        (groups["memory"] / "cgroup.procs").write_text("")
        (groups["memory"] / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
        assert cgroups.oom_kills(groups["memory"]) == 2
    finally:
        box.close()
    assert sorted(removals) == sorted(groups.values()) and not any(g.exists() for g in groups.values())


@pytest.mark.parametrize(
    "hierarchies, made, fallback",
    [
        ({".": PIDS}, {"pids"}, {"--as"}),  # v2, memory not delegated: the memory limit per process
        ({"memory": V1_MEMORY, "cpu": V1_CPU}, {"memory", "cpu"}, {"--nproc"}),  # v1 without a pids hierarchy
    ],
)
def test_each_controller_without_a_group_gets_its_rlimit(cgroup_fs, as_root, hierarchies, made, fallback):
    removals = cgroup_fs(hierarchies)
    box = bwrap.Sandbox(Limits())
    groups = set(box.cgroups.values())
    try:
        assert set(box.cgroups) == made
        assert rlimits(box.command(["true"])) & {"--as", "--nproc"} == fallback
    finally:
        box.close()
    assert sorted(removals) == sorted(groups) and not any(group.exists() for group in groups)  # each once


def test_a_cgroup_gets_the_limit_files_its_hierarchy_has_and_is_removed_without_any(monkeypatch, tmp_path):
    """make_cgroup writes each setting whose file the group has (v1's here, in order), none of v2's; a group with
    none of the files is removed and the next hierarchy tried (here none)."""
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", tmp_path)
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "cgroup.procs").touch()
    made = tmp_path / "memory" / "lrcourse-1-0"
    made.mkdir()  # as the kernel would fill it, v1 with swap accounting
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
        (made / name).write_text("-1")
    assert cgroups.make_cgroup("memory", made.name, cgroups.memory_settings(5 << 20)) == made
    assert {f.name: f.read_text() for f in made.iterdir()} == {
        "memory.limit_in_bytes": str(5 << 20),
        "memory.memsw.limit_in_bytes": str(5 << 20),
    }
    assert cgroups.make_cgroup("memory", "lrcourse-1-1", cgroups.memory_settings(5 << 20)) is None
    assert sorted(f.name for f in (tmp_path / "memory").iterdir()) == ["cgroup.procs", made.name]


def test_leftovers_removes_the_groups_of_gone_processes_only(cgroup_fs, tmp_path):
    cgroup_fs({".": V2_MEMORY, "memory": V1_MEMORY})
    gone = 1 << 23  # above the largest pid_max: no such process
    groups = [
        tmp_path / cgroups.group_name(gone, 3),
        tmp_path / "memory" / cgroups.group_name(gone, "worker"),
        tmp_path / cgroups.group_name(os.getpid(), 0),  # a running worker's
        tmp_path / "lrcourse-notes-x",  # not the grader's
    ]
    for group in groups:
        group.mkdir()
    leftovers.remove_stale()
    assert [group.exists() for group in groups] == [False, False, True, True]
    assert [cgroups.group_owner(g.name) for g in groups] == [gone, gone, os.getpid(), None]


def test_a_memory_groups_peak_is_read_and_reset_in_v1_and_v2(tmp_path):
    """The files as each version has them (v1: a write of 0 resets; v2: a write resets for that open file)."""
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "memory.max_usage_in_bytes").write_text("734003200\n")
    peak = cgroups.MemoryPeak(v1)
    assert peak.read() == 734003200
    peak.reset()
    assert (v1 / "memory.max_usage_in_bytes").read_text() == "0" and peak.read() == 0
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.peak").write_text("1000")
    peak = cgroups.MemoryPeak(v2)
    assert peak.read() == 1000
    peak.reset()  # a regular file takes the write: the kernel's file would show the usage now, not the text
    assert peak.file is not None
    peak.close()
    assert cgroups.MemoryPeak(None).read() is None and cgroups.MemoryPeak(tmp_path).read() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes cgroups")
def test_a_real_memory_groups_peak_counts_what_its_process_held(tmp_path):
    """A process of 200 MB in a memory group (v1 or v2, as this machine has): the peak counts it, and after a reset
    (the process gone) it is far below."""
    name = cgroups.group_name(os.getpid(), 999)  # leftovers removes it if this test dies
    group = cgroups.make_cgroup("memory", name, cgroups.memory_settings(1 << 30))
    if group is None:
        pytest.skip("no memory cgroup can be made here")
    peak = cgroups.MemoryPeak(group)
    try:
        peak.reset()
        script = "x = bytearray(200 << 20); x[::4096] = b'1' * len(x[::4096])"
        subprocess.run(["/bin/sh", "-c", f'echo $$ > "{group}/cgroup.procs" && exec python3 -c "{script}"'], check=True)
        held = peak.read()
        assert held is not None and held >= 200 << 20, held
        peak.reset()
        assert peak.read() < 100 << 20, peak.read()
    finally:
        peak.close()
        cgroups.remove(group, tries=50)
