"""A folder as a JSON document, for the grading queue (`fleet_grade`, `fleet_worker`): {relative path: base64 of
the bytes}, plain files only.

Packing goes through intake's rules first (`intake.unsafe_files`: no link, no special file, no hard link, no
code, at most MAX_ENTRIES entries and MAX_SUBMISSION_MB), so a parcel holds only what local grading would
take. Unpacking trusts nothing it reads (a parcel crossed the network, and its files are a student's): every
name must be a plain relative path, the whole within the same limits, each file created new (O_EXCL, no
link followed) in a hidden folder beside the target, checked again by intake's rules and only then renamed to it.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from lrcourse.grading.intake import MAX_ENTRIES, MAX_SUBMISSION_MB, unsafe_files

MAX_NAME = 255  # one path component, as most file systems allow
MAX_PATH = 1024
# A worker's result, its autograded and feedback folders packed (`fleet_worker.Station.grade_here`), at most: the
# broker holds a window's results, and its memory is sized by this bound (the README's "Broker memory"). A result is
# about 1.2 MB; a submission within every cap of `notebook_limits` and `output_caps` made 33 MB (8 MB of pasted
# images, in the graded notebook and again in the feedback page, and 8 MB of kept outputs, as base64), and kept
# outputs that are images would be in the page too (about 47 MB); output of control characters, which JSON writes as
# 6 bytes each, goes past it (R25p M1: 8 MB of chr(1) made a 49 MB notebook and a 77 MB result): she alone fails.
# In MiB, as intake's caps (`<< 20`), and said in MiB (R25q N3: said in MB of 1e6 bytes, "67 MB, more than 64 MB").
MAX_RESULT_MB = 64
MIB = 1 << 20


class ParcelRefused(ValueError):
    """The folder or the parcel breaks a rule: the message says which."""


def pack(folder: Path, checked: bool = True) -> dict[str, str]:
    """The plain files under `folder` (refused first by intake's rules unless `checked` is False: the
    worker's own output, which it wrote)."""
    if checked:
        why = unsafe_files(folder)
        if why:
            raise ParcelRefused(why)
    files, size = {}, 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        size += len(data)
        if size > MAX_SUBMISSION_MB << 20 or len(files) >= MAX_ENTRIES:
            raise ParcelRefused(f"the folder is larger than {MAX_SUBMISSION_MB} MB or {MAX_ENTRIES} files")
        files[path.relative_to(folder).as_posix()] = base64.b64encode(data).decode("ascii")
    return files


def packed_size(folder: Path) -> int:
    """About the bytes `pack(folder)` takes in a message, read from the files' sizes, not their content: each plain
    file's name and its base64 (4 bytes for 3), with a few bytes around each. 0 for a folder that is gone."""
    paths = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()] if folder.is_dir() else []
    return sum((path.stat().st_size + 2) // 3 * 4 + len(str(path.relative_to(folder))) + 8 for path in paths)


def result_too_large(folders) -> str:
    """Why a worker's result made of `folders` is not sent: packed, more than MAX_RESULT_MB MiB (its size read from
    the files' sizes, before packing; said rounded up, so never as the cap itself); "" if it fits. Failing that
    student alone, with the reason."""
    size = sum(packed_size(folder) for folder in folders)
    if size <= MAX_RESULT_MB << 20:
        return ""
    files = [
        p for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
    ]
    largest = max(files, key=lambda path: path.stat().st_size)
    return (
        f"her graded notebook and feedback page make a result of {math.ceil(size * 10 / MIB) / 10:.1f} MiB, more than "
        f"the grading queue carries ({MAX_RESULT_MB} MiB, a bound of the broker's memory); the largest file, "
        f"{largest.name}, is {largest.stat().st_size / MIB:.1f} MiB (saved outputs, pasted images, and output that "
        "JSON writes longer, such as control characters, 6 bytes each); graded without a broker (`lrcourse grade` without --broker-file) "
        "she is not bound by it"
    )


def unpack(files: object, folder: Path) -> None:
    """Write the parcel `files` into `folder` (which must not exist yet), refusing anything but plain relative
    names within the limits; then intake's rules again, on what is on disk. The files are written into a hidden
    folder beside `folder`, renamed to it only once accepted: a refused parcel leaves nothing behind (the
    enqueuing command unpacks into the course's own folders)."""
    if not isinstance(files, dict) or len(files) > MAX_ENTRIES:
        raise ParcelRefused(f"a parcel is a mapping of at most {MAX_ENTRIES} files")
    decoded = {_safe_name(name): _bytes(data) for name, data in files.items()}
    if sum(len(data) for data in decoded.values()) > MAX_SUBMISSION_MB << 20:
        raise ParcelRefused(f"the parcel is larger than {MAX_SUBMISSION_MB} MB")
    if os.path.lexists(folder):
        raise FileExistsError(f"{folder} exists already")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name[:64]}.unpacking-", dir=folder.parent))
    try:
        staging.chmod(0o755)  # as a new folder is made, not mkdtemp's 0700
        _write(decoded, staging)
        why = unsafe_files(staging)
        if why:
            raise ParcelRefused(why)
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(decoded: dict[PurePosixPath, bytes], folder: Path) -> None:
    for name, data in decoded.items():
        target = folder.joinpath(*name.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(handle, "wb") as out:
            out.write(data)


def _safe_name(name: object) -> PurePosixPath:
    if not isinstance(name, str) or not name or len(name) > MAX_PATH or "\0" in name or "\\" in name:
        raise ParcelRefused(f"a parcel's file name is not a plain relative path: {str(name)[:80]!r}")
    path = PurePosixPath(name)
    parts = path.parts
    if path.is_absolute() or any(part in ("", ".", "..") or len(part) > MAX_NAME for part in parts):
        raise ParcelRefused(f"a parcel's file name is not a plain relative path: {name[:80]!r}")
    return path


def _bytes(data: object) -> bytes:
    if not isinstance(data, str) or len(data) > (MAX_SUBMISSION_MB << 20) * 4 // 3 + 4:
        raise ParcelRefused("a parcel's file is not base64 text within the size limit")
    try:
        return base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise ParcelRefused(f"a parcel's file is not base64: {error}") from None
