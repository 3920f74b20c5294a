"""What the answers' zygote imports before it forks: what the chapter's context imports, and the libraries an answer
may import when first called (`answer_zygote.ANSWER_LIBRARIES`), so that no case of a student's pays for an import."""

from __future__ import annotations


def test_the_answers_zygote_imports_what_the_context_imports_before_it_forks():
    """`Judge.ready` gives the zygote the modules the chapter's context imports (`Exercise.context_modules`): the
    zygote imports them once, so a child finds them imported before its context runs; one that does not import is
    left to the child, which meets the error as it always did."""
    from lrcourse.grading.sandbox import answer_zygote, answers

    handle = answers.AnswerZygoteHandle()
    handle.modules = ["tabnanny", "no_such_module_here"]
    assert answer_zygote.options(["--control", "3", *handle.options()])["modules"] == handle.modules
    assert "--preload" not in answers.AnswerZygoteHandle().options()
    assert imported_before_the_context("tabnanny", []) is False
    assert imported_before_the_context("tabnanny", handle.modules) is True


def test_an_answer_finds_scipys_root_finders_imported_before_its_first_case():
    """A correct exercise 1.2 that imports scipy.optimize inside the function pays nothing for it in its first case
    (3 s, under the guard's profiler): the zygote imported it before the fork, with no context asking for it."""
    assert imported_before_the_context("scipy.optimize", []) is True


def imported_before_the_context(module: str, modules: list[str]):
    """Whether a child of a zygote given `modules` to preload finds `module` imported when its context starts, as the
    child sends it back."""
    from lrcourse.grading.autograde.remote import Session
    from lrcourse.grading.sandbox import answers

    handle = answers.AnswerZygoteHandle()
    handle.modules = modules
    try:
        session = Session(
            handle, [f"import sys\nPRELOADED = {module!r} in sys.modules"], [("a", "x = 1")], defines={"a": ["x"]}
        )
        found = session.resolve("PRELOADED")
        session.close()
    finally:
        handle.stop()
    return found
