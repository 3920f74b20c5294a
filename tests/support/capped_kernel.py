"""A kernel for running notebooks through the grader's output caps in a test: ipykernel's own, reached by the
grader's bounded client (`sandbox.kernel_client`) with the grader's measuring session, as `lrcourse grade` reaches a
student's kernel. What the session or the client's channels refuse is recorded in `refused` (the grader's manager
would stop the kernel)."""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager
from traitlets import List, default

from lrcourse.grading.sandbox.kernel_client import BoundedKernelClient, MeasuredSession


class BoundedKernelManager(AsyncKernelManager):
    refused = List()

    @default("client_factory")
    def _bounded(self):
        return BoundedKernelClient

    @default("session")
    def _measuring(self):
        return MeasuredSession(self.refused.append, parent=self)
