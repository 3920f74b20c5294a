"""The forms an answer's numbers may take, judged alike in the student's kernel and on the grader's side (numpy
scalars, whole floats). Answers that are plain data read off a log (chapter 2's StepLR log, chapter 3's
ReduceLROnPlateau run) are a dict whose keys each take a form, checked one key per test cell so that one slip costs one
point; chapter 3's stalled run and chapter 4's recipe use the same forms."""

from __future__ import annotations

import math

from lrcourse import wire
from lrcourse.checking.expect import CheckFailed, expect
from lrcourse.checking.self_contained import expect_data_self_contained

# The forms, in a student's words: what `is_number` and `is_count` take (each message says which forms count)
NUMBER_FORMS = "an int or a float; a numpy scalar counts as its value; a tensor, a Decimal or a bool does not"
COUNT_FORMS = "such as 4, or 4.0, or a numpy integer; a tensor or a bool is none"


def as_sent(value, answer: str = "your answer"):
    """`value`, the name `answer` (plain data), as the grader's side reads it: what `lrcourse.wire` sends of it, in
    the answer's process's reply to the grader (`wire.value_reply`), through its JSON (a plain int as itself, any other
    real number as its float: a numpy scalar, a Fraction, a subclass; a str subclass as a plain str; too large a
    number, a tensor or an object as no number). A callable name is refused: the grader gets its stand-in, never its
    content (R23o). Beyond the wire's bounds (too many values, too large, not JSON) it raises Unsendable with the
    reason, as the grader's side fails that name's tests (R23o). The kernel judges that too, so both sides give one
    verdict (R23k: Fraction(4 * 10**20 + 1, 10**20) failed in the kernel and passed as 4.0 in the grade; R23l: a float
    subclass storing nan whose float is right; R23m: a str subclass equal to everything).
    A check reads a student's whole answer through it once, before judging: a `__float__` that changes between calls,
    or a dict whose `__getitem__` lies, gets one verdict within that check cell. Only within it: the grader reads a
    name once per student (and keeps it for every test cell), the kernel once per check cell, so such an answer can
    pass a cell in the notebook that the grade fails."""
    if callable(value):  # the grader's side gets a callable name's stand-in, never its content (R23o)
        raise Unsendable(
            f"{answer} is callable: the grader reads a callable name as a function, not as data. "
            f"Bind {answer} to plain data (a dict, a list, numbers, text), not to a function or an object"
        )
    return _through(lambda: wire.value_reply(value), answer)


def returned_as_sent(value, call: str = "your function"):
    """`value`, what a function answer returned (`call` says which call), as the grader's side reads it: in the answer's
    process's reply to a call (`wire.call_reply`). A returned value may be callable (a dict subclass with `__call__`):
    only a name is sent as a callable's stand-in, a returned value is sent as its data (R23p)."""

    def reply():
        sent = wire.call_reply()
        sent["value"] = wire.encode(value)
        return sent

    return _through(reply, f"the value {call} returned")


def _through(reply, answer: str):
    """The "value" of `reply()` (the answer's process's reply), after its round trip through the wire's JSON."""
    try:
        return wire.decode(wire.loads(wire.dumps(reply()))["value"])
    except Exception as error:  # the grader would get no value (a student's object may raise anything here)
        if type(error).__name__ == "ForbiddenUse":  # the guard's own stop: the caller reports it as such
            raise
        raise Unsendable(
            f"{answer} cannot be sent to the grader ({str(error)[:200]}), so the grade would fail it: make it plain "
            "data of moderate size (numbers, text, lists, tuples and dicts of them; float(x) of a tensor or a numpy "
            "value)"
        ) from None


class Unsendable(CheckFailed):
    """A value beyond what `lrcourse.wire` sends to the grader: the grader's side fails it, with this reason (a
    CheckFailed: the kernel shows the message, not the checker's frames)."""


def sent_or_none(value):
    """`as_sent(value)`, or None where the grader reads no value."""
    try:
        return as_sent(value)
    except Unsendable:
        return None


def is_number(value) -> bool:
    """A finite real number as the grader reads it (`as_sent`); a bool is none."""
    sent = sent_or_none(value)
    return type(sent) in (int, float) and math.isfinite(sent)


def is_count(value, least: int) -> bool:
    """A whole number >= `least`, as the grader reads it (`as_sent`): an int, a numpy integer, 4.0 as a float or
    numpy float. Every form, because the grader's side sees each one as a plain number, so the student's kernel must
    judge them as the grader does (issue 23, R23f: np.int64(4) lost 2 points in the kernel and none in the grade).
    A bool is not a count: True is 1 to Python, but an answer that returns one has not counted anything (and the
    wire keeps bools apart from numbers, so both sides refuse it)."""
    sent = sent_or_none(value)
    whole = type(sent) is int or (type(sent) is float and math.isfinite(sent) and sent.is_integer())
    return whole and sent >= least


def expect_form(answer, variable: str, forms: dict, name: str | None = None, notebooks=None) -> dict:
    """`answer` (the student's `variable`), as the grader reads it (`as_sent`, once), is a dict holding `name` (every
    key of `forms` when None), each in the form its `forms[key] = (test, words)` says; that dict is returned, for the
    checks that judge its values next. In the notebook, first: the cell that assigned `variable` stands on its own
    (`expect_data_self_contained`, from `notebooks`: `saved_answer.saved_notebooks()`, read there if None), as the
    grader runs it."""
    expect_data_self_contained(variable, notebooks)
    answer = as_sent(answer, variable)
    names = tuple(forms) if name is None else (name,)
    missing = [key for key in names if not isinstance(answer, dict) or key not in answer]
    expect(
        not missing,
        f"{variable} must be a dict with the keys {list(forms)}"
        + (f"; yours has {sorted(map(str, answer))}" if isinstance(answer, dict) else ""),
    )
    for key in names:
        test, words = forms[key]
        expect(test(answer[key]), f"{words}; yours is {shown(answer[key])}")
    return answer


def shown(value) -> str:
    """`value` as a message shows it: its repr, cut short, or its type if it has none to show (an int of more than
    4300 digits raises on repr)."""
    try:
        text = repr(value)
    except Exception:
        return f"a value of type {type(value).__name__}"
    return text if len(text) <= 200 else text[:200] + "..."
