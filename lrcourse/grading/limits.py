"""What one sandbox may use: the limits `Sandbox` enforces, read from nbgrader_config.py as `c.Sandbox.<name>`."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Limits:
    """What one sandbox may use. Sized for this course on a 2-core, 24 GB machine with two workers."""

    memory_mb: int = 3072  # the whole sandbox (cgroup); per process (address space) without cgroups
    cpus: int = 1  # cores the whole sandbox may keep busy (cgroup): a classmate graded
    # alongside keeps the others
    processes: int = 64  # the whole sandbox (cgroup); per user without cgroups
    file_size_mb: int = 64  # any one file written
    cpu_seconds: int = 600  # per process
    open_files: int = 256
    tmp_mb: int = 256  # the private /tmp
    wall_seconds: int = 300  # a notebook's whole run, from kernel start to shutdown

    @classmethod
    def from_config(cls, config) -> Limits:
        section = config.get("Sandbox", {}) if config is not None else {}
        return cls(**{f.name: int(section[f.name]) for f in fields(cls) if f.name in section})
