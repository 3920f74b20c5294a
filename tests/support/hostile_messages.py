"""Kernels that send the grader messages costly or impossible to read, or whose content is malformed for their type,
each in a correct notebook (`test_hostile.py` grades them in a class of their own, next to an honest classmate): the
kernel's own session, patched for one message. Each stops that kernel with its reason; nothing reaches nbclient or
the instructor's terminal."""

from __future__ import annotations

from support.hostile import CORRECT, Attack

# A display whose JSON nests 100,000 deep (200 kB) where the grader parses it: the kernel's own packer, patched for
# one message. Unbounded, the grader's unpacker raised RecursionError outside the sandbox (no reason the student
# could read, nbclient's traceback in the terminal); graded in a class of its own.
DEEP_MESSAGE_CELL = """
_session = get_ipython().kernel.session
_pack = _session.pack
_session.pack = lambda obj: _pack(obj).replace(b'"@@DEEP@@"', b"[" * 100_000 + b"]" * 100_000)
from IPython.display import display
display({"application/json": "@@DEEP@@", "text/plain": "deep"}, raw=True)
_session.pack = _pack
"""
DEEP_MESSAGE = Attack("deep-message-correct", CORRECT, correct=True, extra_cells=(DEEP_MESSAGE_CELL,))
# Shallow but not JSON (F14): a decode error went on into nbclient (a vague reason, its traceback in the terminal)
NOT_JSON_CELL = DEEP_MESSAGE_CELL.replace('b"[" * 100_000 + b"]" * 100_000', 'b"]"')
NOT_JSON_MESSAGE = Attack("not-json-message-correct", CORRECT, correct=True, extra_cells=(NOT_JSON_CELL,))
# Shallow JSON of 400,000 values (1.2 MB) where the grader parses it (F15: four 15 MB parts of it cost the grader
# 17.7 s of CPU and 1.9 GB outside the sandbox)
MANY_VALUES_CELL = DEEP_MESSAGE_CELL.replace('b"[" * 100_000 + b"]" * 100_000', 'b"[" + b"[]," * 400_000 + b"[]]"')
MANY_VALUES_MESSAGE = Attack("many-values-message-correct", CORRECT, correct=True, extra_cells=(MANY_VALUES_CELL,))
# Messages jupyter_client cannot unpack (F15): its ValueError or TypeError went on into nbclient (a vague reason,
# its traceback in the instructor's terminal). The kernel's own session, patched for one message.
BAD_SIGNATURE_CELL = """
_session = get_ipython().kernel.session
_sign = _session.sign
_session.sign = lambda parts: b"0" * 64
print("unsigned", flush=True)
_session.sign = _sign
"""
BAD_SIGNATURE = Attack("bad-signature-correct", CORRECT, correct=True, extra_cells=(BAD_SIGNATURE_CELL,))
LIST_HEADER_CELL = """
_session = get_ipython().kernel.session
_pack = _session.pack
_session.pack = lambda obj: b"[]" if isinstance(obj, dict) and "msg_id" in obj else _pack(obj)
print("headless", flush=True)
_session.pack = _pack
"""
LIST_HEADER = Attack("list-header-correct", CORRECT, correct=True, extra_cells=(LIST_HEADER_CELL,))

# Messages that unpack but whose content is malformed for their type (F16's residual): nbclient read them unchecked
# and raised KeyError, AttributeError, TypeError or nbformat's ValidationError ("There was an error processing
# assignment", no feedback, nbclient's "Task exception was never retrieved" traceback in the instructor's terminal).
# The kernel's own session patched for the next message of one type, its content replaced; each is refused with
# what was wrong (`sandbox.message_shapes`).
ONCE_CELL = """
_kernel = get_ipython().kernel
_send = _kernel.session.send
def _once(stream, msg_or_type, content=None, *args, **kwargs):
    kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type["header"]["msg_type"]
    if kind == {kind!r}:
        _kernel.session.send = _send
        if isinstance(msg_or_type, dict):
            msg_or_type = dict(msg_or_type, content={content})
        else:
            content = {content}
    return _send(stream, msg_or_type, content, *args, **kwargs)
_kernel.session.send = _once
{then}
"""
DISPLAY = 'from IPython.display import display\ndisplay({"text/plain": "x"}, raw=True)'
UPDATE = 'from IPython.display import display\n_h = display("x", display_id=True)\n_h.update("y")'
TEXT = '{"text/plain": "x"}'


def malformed(name: str, kind: str, content: str, then: str = "pass") -> Attack:
    cell = ONCE_CELL.format(kind=kind, content=content, then=then)
    return Attack(f"{name}-correct", CORRECT, correct=True, extra_cells=(cell,))


# (the attack, the reason its student's record must give)
MALFORMED_CONTENT = (
    (malformed("status-no-state", "status", "{}"), "malformed status message: its execution_state is not a string"),
    (
        malformed("reply-no-status", "execute_reply", '{"execution_count": 3}'),
        "malformed reply: its status is not a string",
    ),
    (
        malformed("display-data-list", "display_data", '{"data": [1], "metadata": {}}', DISPLAY),
        "malformed display_data message: its data is not an object",
    ),
    (
        malformed("display-mime-number", "display_data", '{"data": {"text/plain": 5}, "metadata": {}}', DISPLAY),
        "malformed display_data message: its data holds a value that is not text",
    ),
    (
        malformed("display-metadata-list", "display_data", f'{{"data": {TEXT}, "metadata": [1]}}', DISPLAY),
        "malformed display_data message: its metadata is not an object",
    ),
    (
        malformed(
            "display-transient-list", "display_data", f'{{"data": {TEXT}, "metadata": {{}}, "transient": [1]}}', DISPLAY
        ),
        "malformed display_data message: its transient is not an object",
    ),
    (
        malformed(
            "display-id-list",
            "display_data",
            f'{{"data": {TEXT}, "metadata": {{}}, "transient": {{"display_id": [1]}}}}',
            DISPLAY,
        ),
        "malformed display_data message: its display_id is a list or an object",
    ),
    (
        malformed(
            "update-data-number",
            "update_display_data",
            '{"data": 5, "metadata": {}, "transient": {"display_id": _h.display_id}}',
            UPDATE,
        ),
        "malformed update_display_data message: its data is not an object",
    ),
    (
        malformed("result-no-count", "execute_result", f'{{"data": {TEXT}, "metadata": {{}}}}', "1"),
        "malformed execute_result message: it has no execution_count",
    ),
)
MESSAGE_ATTACKS = (
    DEEP_MESSAGE,
    NOT_JSON_MESSAGE,
    MANY_VALUES_MESSAGE,
    BAD_SIGNATURE,
    LIST_HEADER,
    *(attack for attack, _ in MALFORMED_CONTENT),
)
