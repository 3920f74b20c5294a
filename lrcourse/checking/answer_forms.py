"""The forms an answer's numbers may take, judged alike in the student's kernel and on the grader's side (numpy
scalars, whole floats). Answers that are plain data read off a log (chapter 2's StepLR log, chapter 3's
ReduceLROnPlateau run) are a dict whose keys each take a form, checked one key per test cell so that one slip costs one
point; chapter 3's stalled run and chapter 4's recipe use the same forms."""

from __future__ import annotations

import math

from lrcourse.checking.expect import expect


def as_sent(value):
    """`value` as the grader's side reads it: what `lrcourse.wire` sends of it, through its JSON (a plain int as itself,
    any other real number as its float: a numpy scalar, a Fraction, a subclass; a str subclass as a plain str; too
    large a number, a tensor or an object as no number). Beyond the wire's bounds (too many values, too large, not JSON)
    it raises Unsendable with the reason, as the grader's side fails the whole answer (R23o). The kernel judges that
    too, so both sides give one verdict (R23k: Fraction(4 * 10**20 + 1, 10**20) failed in the kernel and passed as
    4.0 in the grade; R23l: a float subclass storing nan whose float is right; R23m: a str subclass equal to
    everything).
    The checks read a student's whole answer through it once, before judging: a `__float__` that changes between
    calls, or a dict whose `__getitem__` lies, gets the verdict of its one sending, as on the grader's side."""
    from lrcourse import wire

    if callable(value):  # the grader's side gets a callable name's stand-in, never its content (R23o)
        raise Unsendable("your answer is callable: the grader reads a callable as a function, not as data")
    try:  # measured in a reply's envelope, as the answer's process sends it
        reply = {"ok": True, "callable": False, "optimizers": [], "value": wire.encode(value)}
        return wire.decode(wire.loads(wire.dumps(reply))["value"])
    except Exception as error:  # the grader would get no value (a student's object may raise anything here)
        raise Unsendable(f"your answer holds what the grader does not read: {str(error)[:200]}") from None


class Unsendable(AssertionError):
    """A value beyond what `lrcourse.wire` sends to the grader: the whole answer fails there, with this reason."""


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


def expect_form(answer, variable: str, forms: dict, name: str | None = None) -> dict:
    """`answer` (the student's `variable`), as the grader reads it (`as_sent`, once), is a dict holding `name` (every
    key of `forms` when None), each in the form its `forms[key] = (test, words)` says; that dict is returned, for the
    checks that judge its values next."""
    answer = as_sent(answer)
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
