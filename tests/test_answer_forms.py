"""An answer's numbers get one verdict in the student's kernel and on the grader's side, where `lrcourse.wire` hands the
judge plain numbers for numpy scalars (issue 23, R23f: np.int64(4) lost 2 of chapter 4's points in the kernel only)."""

import pytest
import torch

from lrcourse import checking

COUNTS = {"warmup_epochs": 1, "step_size": 2}  # the right recipe's counts (`_recipe_answer`); its rates are compared
# by `close` in every reading, as in chapter 4's recipe


def _recipe_answer(key: str, value):
    """A right recipe (lr=0.1, warmup 1, start_factor 0.5, step_size 2, gamma 0.5) with `key` given as `value`."""
    right = {"lr": 0.1, "warmup_epochs": 1, "start_factor": 0.5, "step_size": 2, "gamma": 0.5}
    return right | {key: value}


class _StoresNan(float):
    """A float subclass holding nan whose `float()` is `value`."""

    def __new__(cls, value):
        made = super().__new__(cls, float("nan"))
        made.value = value
        return made

    def __float__(self):
        return self.value


def _recipe_forms():
    import fractions

    import numpy as np

    accepted = [("warmup_epochs", v) for v in (1, 1.0, np.int64(1), np.int32(1), np.uint8(1), np.float32(1.0))]
    accepted += [("step_size", v) for v in (np.int64(2), np.float64(2.0), fractions.Fraction(2))]
    accepted += [("gamma", np.float32(0.5)), ("lr", np.float64(0.1)), ("start_factor", fractions.Fraction(1, 2))]
    # a value within float rounding of a count is that count as the grader reads it (`as_sent`), on both sides (R23k:
    # these two failed in the kernel and passed in the grade)
    accepted += [("warmup_epochs", fractions.Fraction(10**20 + 1, 10**20)), ("step_size", np.longdouble(2) + 2**-58)]
    # R23l: a float subclass whose stored double is nan but whose float() is right is read by its float() on both
    # sides; a number too large for a float is no number on either side (it crashed the kernel's check)
    accepted += [("gamma", _StoresNan(0.5))]
    refused = [("warmup_epochs", v) for v in (True, np.bool_(True), 1.5, torch.tensor(1), "1", float("nan"))]
    refused += [("step_size", 2.0000001), ("gamma", torch.tensor(0.5)), ("gamma", float("inf"))]
    refused += [("gamma", 10**400), ("step_size", 10**400), ("step_size", fractions.Fraction(10**400, 3))]
    return [(key, value, True) for key, value in accepted] + [(key, value, False) for key, value in refused]


@pytest.mark.parametrize("key, value, right", _recipe_forms(), ids=lambda v: repr(v)[:24])
def test_chapter_4s_recipe_reads_a_number_alike_in_the_kernel_and_on_the_grader(key, value, right):
    """Issue 23 (R23f): np.int64(4) lost 2 of 4 points in the student's kernel and none in the grade (the grader's
    stand-in returns what `lrcourse.wire` decodes: plain numbers). Both now read any whole number as a count and any
    finite real as a rate; a bool is no count (True is 1 to Python, yet an answer that returns it counted nothing), a
    tensor no number, on either side."""
    from lrcourse import wire

    def in_kernel(rates):
        return _recipe_answer(key, value)

    def on_grader(rates):  # what `RemoteTarget.__call__` returns for the same answer
        return wire.decode(wire.encode(_recipe_answer(key, value)))

    verdicts = []
    for reader in (in_kernel, on_grader):
        try:
            checking.check_recipe(reader, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)
            verdicts.append(True)
        except checking.CheckFailed:
            verdicts.append(False)
    assert verdicts == [right, right]


@pytest.mark.parametrize("key, value, right", _recipe_forms(), ids=lambda v: repr(v)[:24])
def test_every_answer_form_reads_alike_in_the_kernel_and_on_the_grader(key, value, right):
    """The forms chapters 2 and 3's readings and chapter 3's stalled run share (`answer_forms`): each value gets
    the verdict its wire-decoded copy gets on the grader's side."""
    from lrcourse import wire
    from lrcourse.checking.answer_forms import is_count, is_number

    decoded = wire.decode(wire.encode(value))
    assert is_count(value, 1) == is_count(decoded, 1)
    assert is_number(value) == is_number(decoded)


@pytest.mark.parametrize("key, value, right", _recipe_forms(), ids=lambda v: repr(v)[:24])
def test_a_reading_of_a_log_judges_a_value_alike_in_the_kernel_and_on_the_grader(key, value, right):
    """Chapter 2's StepLR reading and chapter 3's plateau reading compare the value itself too (not
    only its form): each gives the kernel's value the verdict the grader gives its wire-decoded copy, and that verdict
    is the form's (R23k, R23l: exact comparisons and the object's own operators in the kernel disagreed with the
    grader, which reads float(value))."""
    from lrcourse import wire
    from lrcourse.checking.plateau_reading import check_argument
    from lrcourse.checking.step_lr_reading import check_step_reading

    step = {"step_size": 2, "gamma": 0.5, "hand_set_rate": 0.1}
    readings = {  # each key's reading: the right value is the recipe's (`_recipe_answer`)
        "warmup_epochs": [lambda v: check_argument(_plateau(patience=v), "patience", 1, "")],
        "step_size": [lambda v: check_step_reading(step | {"step_size": v}, "step_size", 2, "")],
        "gamma": [lambda v: check_step_reading(step | {"gamma": v}, "gamma", 0.5, "")],
        "lr": [lambda v: check_step_reading(step | {"hand_set_rate": v}, "hand_set_rate", 0.1, "")],
        "start_factor": [lambda v: check_argument(_plateau(factor=v), "factor", 0.5, "")],
    }[key]
    for reading in readings:
        verdicts = []
        for form in (value, wire.decode(wire.encode(value))):
            try:
                reading(form)
                verdicts.append(True)
            except AssertionError:
                verdicts.append(False)
        assert verdicts == [right, right]


def _plateau(**given) -> dict:
    right = {"factor": 0.5, "patience": 1, "cooldown": 0, "threshold_mode": "rel", "threshold_range": (0.0, 0.1)}
    return right | given


def test_chapter_4s_recipe_names_a_count_in_the_wrong_form_as_such():
    """R23k: a tensor(4) count read "your warmup_epochs is tensor(4), the log was made with 4": the form is named; so
    is a rate's (R23l: a tensor is a number to a student, not to the wire)."""
    answer = _recipe_answer("warmup_epochs", torch.tensor(1))
    with pytest.raises(
        checking.CheckFailed,
        match=r"your warmup_epochs must be a whole number >= 1 a float can hold \(such as 4, or 4.0; a tensor or a bool "
        r"is none\); "
        r"yours is tensor\(1",  # as the grader reads it, a float64 tensor: the same words on both sides
    ):
        checking.check_recipe(lambda rates: answer, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)
    answer = _recipe_answer("gamma", torch.tensor(0.5))
    with pytest.raises(
        checking.CheckFailed,
        match=r"your gamma must be a finite number a float can hold \(an int or a float; .* a tensor",
    ):
        checking.check_recipe(lambda rates: answer, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)


class _EqualToAll(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def test_a_container_or_string_subclass_gets_one_verdict_in_the_kernel_and_on_the_grader():
    """R23m: a right recipe in an OrderedDict passed in the kernel and arrived opaque (0 points); a namedtuple pair
    too; a str subclass equal to everything passed chapter 3's threshold_mode in the kernel only. The wire now sends
    a subclass as its base's content, and the kernel compares the string the grader reads."""
    import collections

    from lrcourse import wire
    from lrcourse.checking.plateau_reading import check_argument

    def graded(value):  # what the grader's side reads of `value`, through the wire's JSON
        return wire.decode(wire.loads(wire.dumps(wire.encode(value))))

    right = collections.OrderedDict(_recipe_answer("lr", 0.1))
    for reader in (lambda rates: right, lambda rates: graded(right)):
        checking.check_recipe(reader, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)
    pair = collections.namedtuple("Pair", "epoch rate")(7, 0.03)
    assert graded(pair) == (7, 0.03) and type(graded(pair)) is tuple
    assert graded(collections.defaultdict(int, {"a": 1})) == {"a": 1}
    for form in (_EqualToAll("banana"), graded(_EqualToAll("banana"))):
        with pytest.raises(AssertionError, match="""threshold_mode must be "rel" or "abs"; yours is 'banana'"""):
            check_argument(_plateau(threshold_mode=form), "threshold_mode", "rel", "")


def test_a_number_too_long_to_show_fails_with_a_message_not_a_crash():
    """R23m: 10**5000 made the kernel's message raise ValueError (repr past 4300 digits); both sides now fail it
    with the check's own message."""
    from lrcourse.checking.step_lr_reading import check_step_reading

    with pytest.raises(
        AssertionError,
        match=r"gamma must be a number > 0 \(an int or a float[^)]*\); yours is <an int of about 5001 digits: too large "
        "for a float>",
    ):
        check_step_reading({"step_size": 2, "gamma": 10**5000, "hand_set_rate": 0.1}, "gamma", 0.5, "")


def test_the_wire_reads_a_value_by_its_own_type_and_within_a_budget():
    """R23n: an int subclass (IntEnum) arrived as a float (chapter 3's drop steps must be ints); an object faking
    `__class__` as dict raised in the kernel instead of arriving opaque; a list that holds itself ten times was
    walked 10**16 times (one student's whole budget). A dict whose `__getitem__` lies is judged by its stored
    content on both sides."""
    import enum
    import time

    from lrcourse import wire
    from lrcourse.checking.answer_forms import as_sent
    from lrcourse.checking.plateau_reading import check_argument

    class Step(enum.IntEnum):
        THREE = 3

    assert as_sent([Step.THREE, 6]) == [3, 6] and type(as_sent([Step.THREE])[0]) is int

    class Faker:
        __class__ = property(lambda self: dict)

    assert isinstance(Faker(), dict) and type(as_sent(Faker())).__name__ == "Opaque"
    itself = [0] * 10
    for i in range(10):
        itself[i] = itself
    start = time.monotonic()
    wire.encode(itself)
    assert time.monotonic() - start < 30

    class Lies(dict):
        def __getitem__(self, key):
            return 0.5 if key == "factor" else dict.__getitem__(self, key)

    lying = Lies(_plateau(factor=0.4))
    with pytest.raises(AssertionError, match="factor = 0.4 is not what this run used"):
        check_argument(lying, "factor", 0.5, "")


def test_an_answer_the_grader_cannot_read_fails_with_that_reason_in_the_kernel():
    """R23o: an answer beyond the wire's bounds (here: an extra key of a million values) made every kernel cell say
    "must be a dict with the keys ..." of a dict that is one; the grader fails the whole answer, saying why. The
    kernel now says the same reason; a callable dict is data to neither side."""
    from lrcourse.checking.answer_forms import Unsendable
    from lrcourse.checking.step_lr_reading import check_step_reading

    right = {"step_size": 2, "gamma": 0.5, "hand_set_rate": 0.1}
    with pytest.raises(Unsendable, match="inferred_step_lr cannot be sent to the grader"):
        check_step_reading(right | {"notes": [[0] * 99_999] * 10}, "step_size", 2, "")

    class Callable(dict):
        def __call__(self):
            return None

    with pytest.raises(Unsendable, match="inferred_step_lr is callable"):
        check_step_reading(Callable(right), "step_size", 2, "")
    check_step_reading(dict(right), "step_size", 2, "")


def test_a_diagnosis_names_each_loop_once():
    """R23q item 4: each loop of Exercise 3.4 (b) wrote one log, so a loop named twice fails the form (a constant
    diagnosis earned the point of the log its loop wrote); the right diagnosis passes and is returned as read."""
    from lrcourse.checking.plateau_reading import check_diagnosis, check_diagnosis_form

    right = {"A": "training loss", "B": "one epoch late", "C": "accuracy", "D": "correct"}
    assert check_diagnosis_form(right) == right
    check_diagnosis(right, {"A": "training loss"}, {"A": "why"})
    for twice, words in [
        (dict.fromkeys("ABCD", "training loss"), "you named 'training loss' for logs A, B, C, D"),
        (right | {"D": "one epoch late"}, "you named 'one epoch late' for logs B, D"),
    ]:
        with pytest.raises(
            checking.CheckFailed, match="each loop wrote exactly one log, so name each loop once"
        ) as failed:
            check_diagnosis(twice, {"A": "training loss"}, {"A": "why"})
        assert words in str(failed.value)
