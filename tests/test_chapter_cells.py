"""Chapter cells run in the test's process (tests/support/chapter_cells.py) find the runs a kernel finds: the run
cache keys a run on its function's source, which `inspect.getsource` reads only from a registered cell."""

from lrcourse.runcache import CACHE_VARIABLE, SHIPPED_RUNS

from support.chapter_cells import chapter_cells
from support.paths import ROOT

CH5 = ROOT / "source" / "05_training" / "training.ipynb"


def test_ch5_cells_run_here_read_the_shipped_runs_and_train_nothing(tmp_path, monkeypatch):
    """Before the cells' text was registered, `run`'s key fell back to its name and missed every shipped run: the
    first call below trained (and wrote its result into the empty cache). Now one run, then the 120 runs of 5.4's
    grid and the 30 that read the test set, all come from lrcourse/runs."""
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path))  # empty: a run that trains lands here
    assert any(SHIPPED_RUNS.glob("*.npz"))
    chapter = chapter_cells(CH5, ["setup", "data", "run"])
    one = chapter["run"]("constant", lr=chapter["LR"], seed=0)
    assert list(tmp_path.iterdir()) == [], "a run trained: its key differs from the kernel's"
    assert len(one["lr"]) == chapter["TOTAL_STEPS"]
    chapter = chapter_cells(CH5, ["setup", "data", "run", "compare", "final"])
    assert list(tmp_path.iterdir()) == [], "a run of the comparison trained: its key differs from the kernel's"
    assert sum(len(runs) for by_rate in chapter["tuning"].values() for runs in by_rate.values()) == 120
    assert sum(len(runs) for runs in chapter["final"].values()) == 30
