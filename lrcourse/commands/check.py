"""`lrcourse check [CHAPTER ...]`: grade the learner's workspace (`lrcourse.self_check`)."""

from __future__ import annotations

from lrcourse.commands.options import refused, sandbox_option, sandbox_ready


def add(sub) -> None:
    check = sub.add_parser(
        "check", help="grade a copy of your workspace with the full hidden tests (a chapter: 03 or its name)"
    )
    check.add_argument("chapters", nargs="*", metavar="CHAPTER", help="default: every chapter")
    sandbox_option(check)
    check.set_defaults(run=command_check)


def command_check(args) -> int:
    """Grade a copy of the learner's workspace with the full hidden tests (lrcourse.self_check)."""
    from lrcourse.build import chapters
    from lrcourse.self_check import ROOT, UnknownChapter, chapter_names, check

    if not (ROOT / "source").is_dir():  # an installed lrcourse (a hub's students' wheel) has no course folder
        missing = f"no course folder here ({ROOT / 'source'} is missing): it runs in a course checkout"
        return refused(f"lrcourse check: {missing}")
    try:
        names = chapter_names(args.chapters, chapters())
    except UnknownChapter as error:
        return refused(f"lrcourse check: {error}")
    if not sandbox_ready(args):
        return 2
    return check(names, sandboxed=not args.no_sandbox)
