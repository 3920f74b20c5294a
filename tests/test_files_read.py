"""The kernel's record of the files each cell reads (`lrcourse.files_read`): whose reads are the cell's."""

import os
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from lrcourse.files_read import FilesRead


def test_a_thread_the_cell_starts_is_the_cells_even_with_an_earlier_threads_id(tmp_path):
    """R23r N4: a thread alive when the cell began reads for itself, but its id was kept, and a thread the cell
    starts after that one ended may get the same id: its read was dropped. Threads are held as objects."""
    recorder = FilesRead(SimpleNamespace(user_ns={"_dh": [str(tmp_path)]}))
    release = threading.Event()
    earlier = threading.Thread(target=release.wait)
    earlier.start()
    recorder.before_cell()
    release.set()
    earlier.join()

    def read():
        recorder.opened((str(tmp_path / "g.txt"), "r", 0), sys._getframe())

    for _ in range(200):  # glibc hands an ended thread's stack, and so its id, to the next thread
        recorder.running = []
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
        if thread.ident == earlier.ident:
            break
    else:
        pytest.skip("no thread got the ended thread's id on this platform")
    assert [path for path, _, _ in recorder.running] == [str(tmp_path / "g.txt")], "the reused id's read was dropped"


def _recorder(folder):
    recorder = FilesRead(SimpleNamespace(user_ns={"_dh": [str(folder)]}))
    recorder.before_cell()
    return recorder


def _read(recorder, path) -> None:
    recorder.opened((str(path), "r", 0), sys._getframe())


def test_a_file_the_run_created_then_read_is_not_recorded(tmp_path):
    """R23s W4a (and M1's mine.json): a file the cell opened to write (`w`, `x`, or `os.open` with O_TRUNC) and then
    read is the run's own: the grader's run writes it too. A file it only appended to, or read first, is recorded."""
    recorder = _recorder(tmp_path)
    for name, mode, flags in (("a.json", "w", 0), ("b.json", "x", 0), ("c.bin", None, os.O_RDWR | os.O_TRUNC)):
        recorder.opened((str(tmp_path / name), mode, flags), sys._getframe())
        _read(recorder, tmp_path / name)
    recorder.opened((str(tmp_path / "log.txt"), "a", 0), sys._getframe())
    _read(recorder, tmp_path / "log.txt")
    _read(recorder, tmp_path / "g.txt")
    recorder.opened((str(tmp_path / "g.txt"), "w", 0), sys._getframe())
    assert [path for path, _, _ in recorder.running] == [str(tmp_path / "log.txt"), str(tmp_path / "g.txt")]


def test_a_file_written_unseen_during_the_run_is_the_runs(tmp_path):
    """R23s W4a: `torch.save` writes from C++ (no "open" event), then `torch.load` reads: lr_range_test restoring its
    weights from a checkpoint was refused ("scores 0") and graded full marks. A file changed since the cell began is
    the run's; one written before it began is recorded."""
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "before.pt")
    time.sleep(0.05)  # file times come from a coarse clock
    recorder = _recorder(tmp_path)
    time.sleep(0.05)
    torch.save({"w": torch.ones(2)}, tmp_path / "range_test_weights.pt")
    _read(recorder, tmp_path / "range_test_weights.pt")
    _read(recorder, tmp_path / "before.pt")
    assert [path for path, _, _ in recorder.running] == [str(tmp_path / "before.pt")]


def test_a_file_an_earlier_cells_thread_writes_during_the_run_is_not_the_runs(tmp_path):
    """A log writer an earlier cell started rewrites g.txt while the cell runs: the file changed since the cell began,
    but not by the cell, and the grader lacks it. The cell's read of it is recorded."""
    (tmp_path / "g.txt").write_text("0.7")
    go, done = threading.Event(), threading.Event()

    def writer():
        go.wait()
        recorder.opened((str(tmp_path / "g.txt"), "w", 0), sys._getframe())
        (tmp_path / "g.txt").write_text("0.7")
        done.set()

    recorder = FilesRead(SimpleNamespace(user_ns={"_dh": [str(tmp_path)]}))
    thread = threading.Thread(target=writer)
    thread.start()
    recorder.before_cell()
    time.sleep(0.05)
    go.set()
    done.wait()
    _read(recorder, tmp_path / "g.txt")
    thread.join()
    assert [path for path, _, _ in recorder.running] == [str(tmp_path / "g.txt")]
