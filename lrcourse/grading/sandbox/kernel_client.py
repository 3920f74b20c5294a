"""The grader's end of a student's kernel: ZeroMQ sockets that never hold much of what the kernel sends.

The kernel is the student's process: it can send anything, on any channel it knows the grader's address on.
So the grader connects only the channels it reads, and bounds what each socket may hold:

- **shell and iopub** (`BoundedKernelClient`), read all the while a cell runs: each frame is at most
  `MESSAGE_MB` (ZeroMQ drops the connection on a larger one) and at most `QUEUED_MESSAGES` whole messages wait
  to be read (past that, ZeroMQ stops reading from the kernel, and what the kernel sends waits in its own,
  sandboxed, memory). ZeroMQ's size bound is per frame, not per message: libzmq assembles a message of many
  frames whole in the worker before anyone can read it, so whole messages are bounded only by the grading
  worker's own memory cap (`lrcourse.grading.autograde.worker_memory`). An honest kernel never comes near any of these:
  its streams pass on little more than the output caps, in small messages (`kernel_output`).
- **stdin, control and heartbeat** are never connected by the client: nbclient never reads them (input is
  refused, the kernel's liveness is its process's), and a socket that is never read would hold whatever the
  kernel queued on it (up to `QUEUED_MESSAGES` of `MESSAGE_MB` each) until the notebook's run ends. A message
  the kernel addresses to a channel that is not connected is dropped by its own socket.
- **every message is measured before it is parsed** (`depth_bounded`, the unpacker of the manager's session): a
  part (header, metadata, content) nested deeper than `MAX_MESSAGE_DEPTH` is never handed to the JSON parser, which
  recurses (a display 100,000 deep made it raise RecursionError in the grader, outside the sandbox: no reason the
  student could read, and nbclient's traceback in the instructor's terminal). A part of more than
  `MAX_MESSAGE_VALUES` JSON values is not parsed either: four 15 MB parts of `[],[],...` cost the grader 17.7 s of
  CPU and 1.9 GB outside the sandbox (F15). A header or parent header over `HEADER_KB` is not parsed either
  (jupyter_client reads each of their strings as a possible date: F16), nor a signature over `SIGNATURE_BYTES`
  (jupyter_client keeps every signature it is sent: F17). A message that cannot be unpacked at all (a bad or
  repeated signature, no delimiter, too few parts, a header that is not an object or lacks its id:
  `MeasuredSession`) is refused the same way: jupyter_client raised ValueError, KeyError or TypeError into nbclient,
  which failed the student vaguely and printed its traceback in the instructor's terminal. The manager is told (it stops the kernel and records the
  limit as the student's reason) and the channel skips the message (`MeasuredChannel`).
- **every message's content is checked in the shapes nbclient reads** before nbclient reads it
  (`message_shapes`: a reply without a status, a status without its state, a display whose data is not an object
  of text or whose metadata is not an object, a result without its count, an odd `transient`): nbclient raised
  KeyError, AttributeError, TypeError or nbformat's ValidationError on these (F16's residual), failing the student
  with "There was an error processing assignment" and its traceback in the instructor's terminal. The channel
  refuses it the same way, with what was wrong: `malformed status message: its execution_state is not a string`.
- **the manager's control socket** (`manager_context`), which sends the shutdown request and never reads a
  reply, queues at most one message, each frame at most `CONTROL_KB` (a message of many frames is bounded by the
  worker's memory cap only, as on shell and iopub: README's "The kernel's channels").
"""

from __future__ import annotations

from collections.abc import Callable

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session
from traitlets import Callable as CallableTrait, Type, default

from lrcourse.grading.sandbox.message_shapes import fault
from lrcourse.json_scan import scan_json

# JSON levels in one part of a kernel's message. An honest one nests about 6 (a display's data in its content). It
# bounds the grader's parsing only: a notebook saved with outputs nested near it is itself deeper than a submitted
# notebook may be (notebook_limits.MAX_DEPTH: its cells and outputs add levels), refused with that reason when read.
MAX_MESSAGE_DEPTH = 64
# JSON values in one part of a kernel's message. The largest honest one measured in every chapter's solution is a
# widget's state of about 100 values (outputs: at most 54; a figure's PNG is one string): a 1000-fold margin, and a
# metadata or content part at the bound costs the parser tens of milliseconds and a few MB. Not a header's:
# jupyter_client tries every string of the header and the parent header as a date (`extract_dates`), and 99,900
# dates in both cost the grader 1 to 2.4 s of CPU per message (F16). Those two are bounded by size first.
MAX_MESSAGE_VALUES = 100_000
# Bytes of a message's header or parent header, refused unparsed past it. An honest one is about 0.2 KB (ids, a
# date, a type, a version): an 80-fold margin. Both at the bound, filled with dates, cost the grader 5 to 10 ms of
# CPU a message (at 64 KB: 21 to 40 ms, about 50 times what sending one costs the kernel: F17).
HEADER_KB = 16
# Bytes of a message's signature frame: an honest one is an HMAC-SHA256 in hex, 64 bytes. jupyter_client keeps every
# signature it has seen (replay detection) before checking it and quotes a bad one in its error: 40 messages with
# 16 MB signatures kept 689 MB in the grader (F17).
SIGNATURE_BYTES = 256
MESSAGE_LIMIT = f"message limit (your kernel sent a message nested deeper than {MAX_MESSAGE_DEPTH} levels)"
TOO_MANY_VALUES = f"message limit (your kernel sent a message part of more than {MAX_MESSAGE_VALUES:,} JSON values)"
NOT_JSON = "message limit (your kernel sent a message that is not JSON)"
MALFORMED = "message limit (your kernel sent a malformed message)"
TOO_LARGE = "message limit (your kernel sent a message too large for the grader to read)"
MESSAGE_MB = 16  # one frame from a kernel (one print, one image), before any cap is applied
QUEUED_MESSAGES = 100  # messages ZeroMQ holds for the grader before it stops reading the kernel's
CONTROL_KB = 64  # one frame on the manager's control socket, which is never read


def bounded_context(message_bytes: int, queued: int) -> zmq.asyncio.Context:
    """A ZeroMQ context whose sockets hold at most `queued` messages, each frame at most `message_bytes`."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, message_bytes)  # a larger frame drops the connection
    context.setsockopt(zmq.RCVHWM, queued)
    return context


def manager_context() -> zmq.asyncio.Context:
    """The context of a kernel manager's own control socket (it sends requests and reads nothing)."""
    return bounded_context(CONTROL_KB << 10, 1)


class MessageRefused(ValueError):
    """A kernel's message the grader did not parse or could not unpack (see the module's text)."""


def refusal(raw: bytes) -> str | None:
    """Why the JSON part `raw` must not be parsed (nested deeper than MAX_MESSAGE_DEPTH, more values than
    MAX_MESSAGE_VALUES), or None."""
    openers = raw.count(b"[") + raw.count(b"{")
    # the counts first: with fewer openers and separators than the limits (every honest message) nothing to scan
    if openers <= MAX_MESSAGE_DEPTH and openers + raw.count(b",") + raw.count(b":") <= MAX_MESSAGE_VALUES:
        return None
    deeper, values = scan_json(raw, MAX_MESSAGE_DEPTH)
    if deeper:
        return MESSAGE_LIMIT
    return TOO_MANY_VALUES if values > MAX_MESSAGE_VALUES else None


def depth_bounded(unpack: Callable, refused: Callable[[str], None]) -> Callable:
    """A session's `unpack` that parses a part only within MAX_MESSAGE_DEPTH and MAX_MESSAGE_VALUES; a part beyond
    them, one that is not JSON (a decode error went on into nbclient: a vague reason, its traceback in the
    instructor's terminal) or one the worker has no memory to read calls `refused(reason)` and raises
    MessageRefused."""

    def refuse(reason: str):
        refused(reason)
        return MessageRefused(reason)

    def bounded(data):
        try:
            raw = data.encode() if isinstance(data, str) else bytes(data)
            reason = refusal(raw)
            if reason:
                raise refuse(reason)
            return unpack(data)
        except RecursionError:  # not balanced JSON (unmeasured), yet deep: the parser's own limit
            raise refuse(MESSAGE_LIMIT) from None
        except MemoryError:  # the worker's memory cap (without root, no sandbox of its own to stop the kernel first)
            raise refuse(TOO_LARGE) from None
        except MessageRefused:
            raise
        except ValueError:  # not JSON (jupyter_client decodes UTF-8 with replacement: that never raises)
            raise refuse(NOT_JSON) from None

    return bounded


def well_formed(message: dict, content: bool) -> bool:
    """Whether an unpacked message has the parts nbclient reads, of the types it reads them as."""
    parts = ("header", "parent_header", "metadata", "content") if content else ("header", "parent_header", "metadata")
    header = message["header"]
    return all(isinstance(message[part], dict) for part in parts) and all(
        isinstance(header.get(key), str) for key in ("msg_id", "msg_type")
    )


class MeasuredSession(Session):
    """A session whose every part is measured before it is parsed (`depth_bounded`) and that refuses, with
    `refused(reason)` and MessageRefused, any message it cannot unpack or that is not made of objects. `refused` is
    a trait: the client's channels use a clone (`Session.clone` makes one with no arguments, then copies every
    trait: the bounded `unpack` and `refused` both)."""

    refused = CallableTrait(lambda reason: None)

    def __init__(self, refused: Callable[[str], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        if refused is not None:
            self.refused = refused
            self.unpack = depth_bounded(self.unpack, refused)

    def feed_identities(self, msg_list, copy: bool = True):
        try:
            return super().feed_identities(msg_list, copy)
        except Exception:  # no delimiter (ValueError), or anything else: the kernel's message, never the grader's
            raise self.malformed() from None

    def deserialize(self, msg_list, content: bool = True, copy: bool = True) -> dict:
        signature_too_long = any(len(frame) > SIGNATURE_BYTES for frame in msg_list[:1])
        if signature_too_long or any(len(frame) > HEADER_KB << 10 for frame in msg_list[1:3]):  # nothing parsed
            self.refused(TOO_LARGE)
            raise MessageRefused(TOO_LARGE)
        try:
            message = super().deserialize(msg_list, content, copy)
        except MessageRefused:
            raise  # refused (and told) by the unpacker already
        except MemoryError:
            self.refused(TOO_LARGE)
            raise MessageRefused(TOO_LARGE) from None
        except Exception:  # a bad or repeated signature, too few parts, a header not an object or without its id
            raise self.malformed() from None
        if not well_formed(message, content):
            raise self.malformed()
        return message

    def malformed(self) -> MessageRefused:
        self.refused(MALFORMED)
        return MessageRefused(MALFORMED)


def malformed_content(what: str) -> str:
    """The student's reason for a message whose content `message_shapes.fault` found wrong (`what`)."""
    return f"message limit (your kernel sent a malformed {what})"


class MeasuredChannel(AsyncZMQSocketChannel):
    """A channel that skips a message its session refused to parse, or whose content is not of the shapes nbclient
    reads (`message_shapes`: the manager is told, as by the session), while the kernel is being stopped, so the
    notebook's run ends as any stopped kernel's does: nbclient sees the kernel die. `replies`: whether nbclient
    takes its messages as replies (shell) or outputs (iopub)."""

    replies = False

    async def get_msg(self, timeout: float | None = None) -> dict:
        while True:
            try:
                message = await super().get_msg(timeout)
            except MessageRefused:
                continue
            wrong = fault(message, self.replies)
            if wrong is None:
                return message
            self.session.refused(malformed_content(wrong))


class MeasuredShellChannel(MeasuredChannel):
    replies = True


class BoundedKernelClient(AsyncKernelClient):
    """A kernel client that connects only shell and iopub, each bounded (see the module's text)."""

    shell_channel_class = Type(MeasuredShellChannel)
    iopub_channel_class = Type(MeasuredChannel)

    @default("context")
    def _context_default(self) -> zmq.asyncio.Context:
        self._created_context = True
        return bounded_context(MESSAGE_MB << 20, QUEUED_MESSAGES)

    def start_channels(self, shell=True, iopub=True, stdin=True, hb=True, control=True) -> None:
        """Only the channels the grader reads, whatever the caller asks for."""
        super().start_channels(shell=shell, iopub=iopub, stdin=False, hb=False, control=False)

    def stop_channels(self) -> None:
        """Stop the channels that were started (jupyter_client's would connect the others, to stop them)."""
        started = (
            self._shell_channel,
            self._iopub_channel,
            self._stdin_channel,
            self._hb_channel,
            self._control_channel,
        )
        for channel in started:
            if channel is not None and channel.is_alive():
                channel.stop()
        if self._created_context and not self.context.closed:
            self.context.destroy(linger=100)
