"""The grader's end of a student's kernel: ZeroMQ sockets that never hold much of what the kernel sends.

The kernel is the student's process: it can send anything, on any channel it knows the grader's address on.
So the grader connects only the channels it reads, and bounds what each socket may hold:

- **shell and iopub** (`BoundedKernelClient`), read all the while a cell runs: each frame is at most
  `MESSAGE_MB` (ZeroMQ drops the connection on a larger one) and at most `QUEUED_MESSAGES` whole messages wait
  to be read (past that, ZeroMQ stops reading from the kernel, and what the kernel sends waits in its own,
  sandboxed, memory). ZeroMQ's size bound is per frame, not per message: libzmq assembles a message of many
  frames whole in the worker before anyone can read it, so whole messages are bounded only by the grading
  worker's own memory cap (`lrcourse.grading.worker_memory`). An honest kernel never comes near any of these:
  its streams pass on little more than the output caps, in small messages (`kernel_output`).
- **stdin, control and heartbeat** are never connected by the client: nbclient never reads them (input is
  refused, the kernel's liveness is its process's), and a socket that is never read would hold whatever the
  kernel queued on it (up to `QUEUED_MESSAGES` of `MESSAGE_MB` each) until the notebook's run ends. A message
  the kernel addresses to a channel that is not connected is dropped by its own socket.
- **every message is measured before it is parsed** (`depth_bounded`, the unpacker of the manager's session): a
  part (header, metadata, content) nested deeper than `MAX_MESSAGE_DEPTH` is never handed to the JSON parser, which
  recurses (a display 100,000 deep made it raise RecursionError in the grader, outside the sandbox: no reason the
  student could read, and nbclient's traceback in the instructor's terminal). The manager is told (it stops the
  kernel and records the limit as the student's reason) and the channel skips the message (`MeasuredChannel`).
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
from traitlets import Type, default

from lrcourse.json_scan import nesting_exceeds

# JSON levels in one part of a kernel's message. An honest one nests about 6 (a display's data in its content). It
# bounds the grader's parsing only: a notebook saved with outputs nested near it is itself deeper than a submitted
# notebook may be (notebook_limits.MAX_DEPTH: its cells and outputs add levels), refused with that reason when read.
MAX_MESSAGE_DEPTH = 64
MESSAGE_LIMIT = f"message limit (your kernel sent a message nested deeper than {MAX_MESSAGE_DEPTH} levels)"
NOT_JSON = "message limit (your kernel sent a message that is not JSON)"
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
    """A part of a kernel's message nested deeper than MAX_MESSAGE_DEPTH (not parsed), or not JSON (F14)."""


def depth_bounded(unpack: Callable, refused: Callable[[str], None]) -> Callable:
    """A session's `unpack` that parses a part only within MAX_MESSAGE_DEPTH; a deeper one, or one that is not JSON
    (a decode error went on into nbclient: a vague reason, its traceback in the instructor's terminal), calls
    `refused(reason)` and raises MessageRefused."""

    def bounded(data):
        raw = data.encode() if isinstance(data, str) else bytes(data)
        # the count first: with fewer openers than the limit no text is deeper (every honest message, at once)
        if raw.count(b"[") + raw.count(b"{") > MAX_MESSAGE_DEPTH and nesting_exceeds(raw, MAX_MESSAGE_DEPTH):
            refused(MESSAGE_LIMIT)
            raise MessageRefused(MESSAGE_LIMIT)
        try:
            return unpack(data)
        except RecursionError:  # not balanced JSON (unmeasured), yet deep: the parser's own limit
            refused(MESSAGE_LIMIT)
            raise MessageRefused(MESSAGE_LIMIT) from None
        except ValueError:  # not JSON (jupyter_client decodes UTF-8 with replacement: that never raises)
            refused(NOT_JSON)
            raise MessageRefused(NOT_JSON) from None

    return bounded


class MeasuredChannel(AsyncZMQSocketChannel):
    """A channel that skips a message its session refused to parse (the kernel is being stopped meanwhile), so the
    notebook's run ends as any stopped kernel's does: nbclient sees the kernel die."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        while True:
            try:
                return await super().get_msg(timeout)
            except MessageRefused:
                continue


class BoundedKernelClient(AsyncKernelClient):
    """A kernel client that connects only shell and iopub, each bounded (see the module's text)."""

    shell_channel_class = Type(MeasuredChannel)
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
