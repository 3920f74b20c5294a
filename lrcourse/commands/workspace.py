"""`lrcourse workspace [DIR]`: the learner's workspace made or brought up to date (`lrcourse.workspace`), and its
start page."""

from __future__ import annotations

from pathlib import Path


def add(sub) -> None:
    workspace = sub.add_parser(
        "workspace",
        help="make your workspace from the release, or bring a course update into it without overwriting "
        "anything you wrote, then write its start page (`make lab` runs it)",
    )
    workspace.add_argument("workspace", nargs="?", help="default: workspace/ in the course checkout")
    workspace.set_defaults(run=command_workspace)


def command_workspace(args) -> int:
    """Make or bring up to date the learner's workspace (lrcourse.workspace), then write its start page."""
    from lrcourse.start_page import write_start_page
    from lrcourse.workspace import RECORD, RELEASE, ROOT, describe, update_workspace

    if not RELEASE.is_dir():  # an installed lrcourse (a hub's students' wheel) has no release to copy
        print(f"lrcourse workspace: no course release here ({RELEASE} is missing): it runs in a course checkout")
        return 2
    workspace = Path(args.workspace or ROOT / "workspace").resolve()
    first = not (workspace / RECORD).exists()
    update = update_workspace(workspace)
    if first:
        print(f"Your workspace is {workspace}: your answers live there, and no course command overwrites them.")
    else:
        print("\n".join(describe(update, workspace)))
    print(f"start page: {write_start_page(workspace)}")
    return 0
