"""The kernel's record of the files each cell reads (`lrcourse.files_read`): whose reads are the cell's."""

import os
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from lrcourse.files_read import FilesRead

from support.saved_cells import failures, save_answer_cell, start_reading_kernel


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


def test_a_file_held_before_the_cell_appended_to_then_read_is_recorded(tmp_path):
    """R23t N3: an earlier cell wrote g.json; the answer cell appended to it (`open('g.json', 'a')`), so the file had
    changed since the cell began, then read it: the read was dropped as the run's own, and the grader, whose append
    creates a g.json holding only what was appended, stops the cell. What the file held before is the folder's. A file
    the append creates is the run's, as one opened with `w`."""
    (tmp_path / "g.json").write_text('{"gamma": 0.7}')
    time.sleep(0.05)  # file times come from a coarse clock
    recorder = _recorder(tmp_path)
    time.sleep(0.05)
    for name in ("g.json", "new.json"):
        recorder.opened((str(tmp_path / name), "a", 0), sys._getframe())
        with open(tmp_path / name, "a") as appending:
            appending.write(" ")
        _read(recorder, tmp_path / name)
    assert [path for path, _, _ in recorder.running] == [str(tmp_path / "g.json")]


@pytest.mark.parametrize("earlier", [True, False], ids=["an earlier cell's file", "a file the append creates"])
def test_an_answer_cell_that_appends_to_a_file_then_reads_it(tmp_path, monkeypatch, earlier):
    """R23t N3 in a kernel, chapter 2's reading: an earlier cell wrote g.json, the answer cell appended a space to it
    and read it: every visible cell passed, and the grader, whose append creates a g.json holding a space, stops
    there. Now each fails naming g.json; without the earlier cell's file (the cell writes what it reads) all pass."""
    from IPython.core.interactiveshell import InteractiveShell

    right = {"step_size": 5, "gamma": 0.7, "hand_set_rate": 0.25}
    run, tests = start_reading_kernel(
        tmp_path, monkeypatch, "02_ordered_schedules", "ordered_schedules.ipynb", "inferred_step_lr"
    )
    try:
        if earlier:
            assert run(f"import json\njson.dump({right!r}, open('g.json', 'w'))\n", new_cell=True) is None
            time.sleep(0.05)  # file times come from a coarse clock: the cell's append too, after its sleep
            cell = "import json\nimport time\n\ntime.sleep(0.05)\nwith open('g.json', 'a') as f:\n    f.write(' ')\n"
        else:
            cell = f"import json\n\nwith open('g.json', 'a') as f:\n    json.dump({right!r}, f)\n"
        cell += "inferred_step_lr = json.load(open('g.json'))\n"
        save_answer_cell(tmp_path / "ordered_schedules.ipynb", "inferred_step_lr", cell)
        assert run(cell, new_cell=True) is None
        said = failures(run, tests)
    finally:
        InteractiveShell.clear_instance()
    if earlier:
        assert len(said) == len(tests) and all("reads g.json, a file of your folder" in one for one in said), said
    else:
        assert said == []
