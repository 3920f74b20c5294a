"""A kernel's message whose content nbclient cannot read (`sandbox.message_shapes`): the grader's channel refuses it
with what was wrong, tells the manager (which stops the kernel) and reads on; an honest message passes. End to end,
graded next to an honest classmate: test_hostile.py's message class."""

from __future__ import annotations

import asyncio

import pytest
import zmq
import zmq.asyncio
from jupyter_client.session import Session

from lrcourse.grading.sandbox.kernel_client import MeasuredChannel, MeasuredSession, MeasuredShellChannel
from lrcourse.grading.sandbox.message_shapes import fault

# Contents nbclient read unchecked (F16's residual): KeyError, AttributeError, TypeError or nbformat's
# ValidationError inside nbclient, which failed the student vaguely. (channel, type, content, what the refusal says)
MALFORMED_CONTENT = [
    ("shell", "execute_reply", {"execution_count": 3}, "reply: its status is not a string"),
    ("iopub", "status", {}, "status message: its execution_state is not a string"),
    ("iopub", "display_data", {"data": [1], "metadata": {}}, "display_data message: its data is not an object"),
    ("iopub", "display_data", {"data": {"text/plain": 5}, "metadata": {}}, "its data holds a value that is not text"),
    ("iopub", "update_display_data", {"data": {"text/plain": "x"}}, "its metadata is not an object"),
    ("iopub", "execute_result", {"data": {}, "metadata": {}}, "execute_result message: it has no execution_count"),
    ("iopub", "stream", {"name": "stdout", "text": "x", "transient": "x"}, "stream message: its transient is not"),
    ("iopub", "bogus" * 100, {"transient": {"display_id": [1]}}, "iopub message: its display_id is a list or an"),
]
# As an honest ipykernel sends them, and what output_caps makes safe itself (not refused here)
HONEST_CONTENT = [
    ("shell", "execute_reply", {"status": "aborted"}),
    ("shell", "kernel_info_reply", {"status": "ok", "language_info": {"name": "python"}}),
    ("iopub", "status", {"execution_state": "idle"}),
    ("iopub", "execute_input", {"code": "1", "execution_count": "not a count"}),
    (
        "iopub",
        "display_data",
        {"data": {"image/png": "iVBO", "text/plain": ["a", "b"]}, "metadata": {}, "transient": {}},
    ),
    (
        "iopub",
        "display_data",
        {"data": {"application/vnd.jupyter.widget-view+json": {"model_id": "1"}}, "metadata": {}},
    ),
    ("iopub", "update_display_data", {"data": {}, "metadata": {}, "transient": {"display_id": "d"}}),
    ("iopub", "execute_result", {"data": {"text/plain": "1"}, "metadata": {}, "execution_count": 1}),
    ("iopub", "stream", {"name": 7, "text": 7}),
    ("iopub", "error", {"ename": 1, "traceback": None}),
    ("iopub", "clear_output", {"wait": [1]}),
    ("iopub", "comm_msg", {"comm_id": 5, "data": 7}),
]


@pytest.mark.parametrize("channel, kind, content, reason", MALFORMED_CONTENT, ids=lambda v: str(v)[:30])
def test_a_message_whose_content_nbclient_cannot_read_is_refused_with_what_was_wrong_and_skipped(
    channel, kind, content, reason
):
    """The grader's channel tells the manager (which stops the kernel) and goes on to the next message; an honest
    message of the same type passes. The reason names a type only if it is the protocol's."""

    async def received() -> tuple[dict, list[str]]:
        context = zmq.asyncio.Context()
        kernel, grader = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
        kernel.bind("inproc://kernel")
        grader.connect("inproc://kernel")
        session, told = Session(key=b"k"), []
        measured = MeasuredSession(told.append, key=b"k", session=session.session)
        read = (MeasuredShellChannel if channel == "shell" else MeasuredChannel)(grader, measured)
        try:
            session.send(kernel, kind, content)
            session.send(
                kernel,
                *(
                    ("execute_reply", {"status": "ok"})
                    if channel == "shell"
                    else ("status", {"execution_state": "idle"})
                ),
            )
            return await read.get_msg(timeout=10), told
        finally:
            context.destroy(linger=0)

    message, told = asyncio.run(received())
    assert len(told) == 1 and told[0].startswith("message limit (your kernel sent a malformed "), told
    assert reason in told[0] and "bogus" not in told[0], told
    assert message["content"] in ({"execution_state": "idle"}, {"status": "ok"})  # the next one, read


@pytest.mark.parametrize("channel, kind, content", HONEST_CONTENT, ids=lambda v: str(v)[:30])
def test_an_honest_message_and_what_output_caps_makes_safe_pass_the_shape_check(channel, kind, content):
    assert fault({"msg_type": kind, "content": content}, reply=channel == "shell") is None


def test_a_signature_over_its_bound_is_refused_before_jupyter_client_keeps_it():
    """F17: jupyter_client adds every signature to its replay history before checking it and quotes a bad one in its
    error (40 messages with 16 MB signatures kept 689 MB in the grader). One over SIGNATURE_BYTES is refused unread;
    an honest one (64 hex digits) is kept and checked as before."""
    from jupyter_client.session import Session

    from lrcourse.grading.sandbox.kernel_client import SIGNATURE_BYTES, TOO_LARGE, MeasuredSession, MessageRefused

    kernel = Session(key=b"k")
    told = []
    grader = MeasuredSession(told.append, key=b"k", session=kernel.session).clone()
    parts = [kernel.pack(kernel.msg_header("stream")), b"{}", b"{}", b'{"name": "stdout", "text": "x"}']
    honest = [kernel.sign(parts), *parts]
    assert len(honest[0]) == 64 <= SIGNATURE_BYTES
    assert grader.deserialize(honest)["content"]["text"] == "x" and told == []
    for signature in (b"0" * (SIGNATURE_BYTES + 1), b"0" * (16 << 20)):
        with pytest.raises(MessageRefused, match="too large for the grader to read"):
            grader.deserialize([signature, *parts])
    assert told == [TOO_LARGE] * 2 and len(grader.digest_history) == 1, "only the honest signature was kept"
