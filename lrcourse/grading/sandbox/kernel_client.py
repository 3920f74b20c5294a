"""The grader's end of a student's kernel: a ZeroMQ client that never holds a large message.

One message from the kernel is at most `MESSAGE_MB`, and at most `QUEUED_MESSAGES` wait to be read: ZeroMQ
drops the connection on a larger message, so it is never held in the grader's memory, and drops messages past
the queue; the notebook's run then stops, as a failure. An honest kernel never comes near either: its streams
pass on little more than the output caps, in small messages (`kernel_output`).
"""

from __future__ import annotations

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from traitlets import default

MESSAGE_MB = 16  # one message from a kernel (one print, one image), before any cap is applied
QUEUED_MESSAGES = 100  # messages ZeroMQ holds for the grader before the kernel's are dropped


class BoundedKernelClient(AsyncKernelClient):
    """A kernel client whose sockets refuse any message over MESSAGE_MB (ZeroMQ drops the connection)."""

    @default("context")
    def _context_default(self) -> zmq.asyncio.Context:
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_MB * 2**20)
        context.setsockopt(zmq.RCVHWM, QUEUED_MESSAGES)  # at most this many messages wait in memory
        return context
