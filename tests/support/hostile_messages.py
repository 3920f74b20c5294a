"""Kernels that send the grader messages costly or impossible to read, each in a correct notebook (`test_hostile.py`
grades them in a class of their own, next to an honest classmate): the kernel's own session, patched for one
message. Each stops that kernel with its reason; nothing reaches nbclient or the instructor's terminal."""

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
MESSAGE_ATTACKS = (DEEP_MESSAGE, NOT_JSON_MESSAGE, MANY_VALUES_MESSAGE, BAD_SIGNATURE, LIST_HEADER)
