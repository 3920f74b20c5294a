"""A student's answer the grader cannot read costs only its own tests (attacker R23p, issue 23): a value the wire sent
and then refused to decode zeroed a whole chapter; a name whose read timed out was read again at every test cell."""

import pytest
import torch

from lrcourse import wire


def test_the_wire_decodes_every_tensor_it_sends():
    """R23p: a bool tensor (torch.tensor([True])) was sent with its bools and refused on decoding ("not a number"),
    an empty tensor with a dimension over MAX_ITEMS (torch.zeros(0, 100_001)) sent and refused for its shape: each
    zeroed a whole chapter. A bool tensor comes back as itself; such an empty tensor crosses as opaque."""
    flags = torch.tensor([[True, False], [False, True]])
    back = wire.decode(wire.loads(wire.dumps({"value": wire.encode(flags)}))["value"])
    assert back.dtype == torch.bool and torch.equal(back, flags)
    assert isinstance(wire.decode(wire.encode(torch.zeros(0, wire.MAX_ITEMS + 1))), wire.Opaque)
    assert wire.decode(wire.encode(torch.zeros(0, wire.MAX_ITEMS))).shape == (0, wire.MAX_ITEMS)
    with pytest.raises(wire.Malformed, match="not a bool"):
        wire.decode({"tensor": [1], "shape": [1], "dtype": "bool"})


class _InProcess:
    """The answers' process run here, its requests straight to its handler (as Child.run answers); `replies` overrides
    the reply to a request for a target (a reply the real process could send), `silent` targets time out."""

    dead = False

    def __init__(self, channel, replies=None, silent=(), asked=None):
        from lrcourse.grading.sandbox.answer_zygote import Child

        self.child, self.replies, self.silent, self.asked = Child(channel), replies or {}, silent, asked

    def request(self, message, seconds):
        from lrcourse.grading.sandbox.zygote import Silence

        target = message.get("target")
        if self.asked is not None:
            self.asked.append(target)
        if target in self.silent:
            self.dead = True  # as AnswerProcess kills a process silent past its deadline
            raise Silence("no reply")
        if target in self.replies:
            return self.replies[target]
        try:
            return self.child.handle(message)
        except BaseException as error:
            return {"ok": False, "error": wire.encode_error(error)}

    def close(self):
        pass


def _session(answers, **process):
    import socket

    from lrcourse.grading.autograde.remote import Session

    ours, theirs = socket.socketpair()
    handle = type("ZygoteHandleStandIn", (), {"fork": lambda self: _InProcess(theirs, **process)})()
    defines = {name: [name] for name, _ in answers}
    return Session(handle, [], answers, defines=defines), (ours, theirs)


def test_a_name_whose_value_does_not_decode_fails_only_its_own_tests():
    """R23p: RemoteAnswer.resolved decoded a name's value outside the try that makes an Undefined, and every test cell
    resolves every name first: one prediction the grader could not decode zeroed the chapter. It is Undefined, with the
    reason; the other names resolve."""
    from lrcourse import checking
    from lrcourse.grading.autograde.remote import Undefined

    undecodable = {"ok": True, "callable": False, "value": {"tensor": ["x"], "shape": [1], "dtype": "float32"}}
    session, sockets = _session([("bad", "bad = 1"), ("x", "x = 2")], replies={"bad": undecodable})
    try:
        bad = session.resolve("bad")
        assert isinstance(bad, Undefined)
        with pytest.raises(checking.CheckFailed, match="bad: your answer sent what the grader does not read"):
            float(bad)
        assert session.resolve("x") == 2
    finally:
        for end in sockets:
            end.close()


def test_a_name_whose_read_timed_out_is_not_read_again_for_that_student():
    """R23p: a prediction whose __float__ sleeps was re-asked (and its process killed) at every test cell: 387 s of a
    420 s budget. Its read timing out once makes it Undefined for the student's Session; the other names are read again
    from a new process."""
    from lrcourse import checking
    from lrcourse.grading.autograde.remote import Undefined

    asked = []
    session, sockets = _session([("slow", "slow = 1"), ("x", "x = 2")], silent=("slow",), asked=asked)
    try:
        for _ in range(3):  # three test cells
            slow = session.resolve("slow")
            assert isinstance(slow, Undefined) and session.resolve("x") == 2
        assert asked.count("slow") == 1, asked
        with pytest.raises(checking.CheckFailed, match="slow: reading your answer did not finish in time"):
            float(slow)
    finally:
        for end in sockets:
            end.close()


@pytest.mark.slow
def test_an_unreadable_prediction_graded_for_real_costs_the_rest_nothing(tmp_path):
    """R23p, graded by `lrcourse grade`: chapter 3's solution with its 0-point prediction as a bool tensor (it did not
    decode: 0 for the whole chapter) or as a float whose __float__ sleeps (read again at every test cell, most of the
    time budget). Every other test cell keeps its marks, as the solution's."""
    from catalogue.early import UNREADABLE_PREDICTIONS
    from support.course import make_course, scores, solution_answers
    from support.gradedclass import lrcourse, student_name, submit

    chapter = "03_adaptive_schedules"
    course = make_course(tmp_path / "course", [chapter])
    for answer in UNREADABLE_PREDICTIONS:
        submit(course, student_name(answer), chapter, {**solution_answers(chapter), answer.cell: answer.source})
    run = lrcourse(course, "grade", chapter, "--workers", "1", timeout=1200)
    graded = scores(course, chapter)
    for answer in UNREADABLE_PREDICTIONS:
        cells = graded[student_name(answer)]
        lost = {name for name, (score, maximum) in cells.items() if score != maximum}
        assert len(cells) > 1 and not lost, (answer.name, lost, run.stdout[-2000:])
