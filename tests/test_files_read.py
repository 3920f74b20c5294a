"""The kernel's record of the files each cell reads (`lrcourse.files_read`): whose reads are the cell's."""

import sys
import threading
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
