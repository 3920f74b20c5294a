"""A kernel for running notebooks through the grader's output caps in a test: ipykernel's own, reached by the
grader's bounded client (`sandbox.kernel_client`), as `lrcourse grade` reaches a student's kernel."""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from lrcourse.grading.sandbox.kernel_client import BoundedKernelClient


class BoundedKernelManager(AsyncKernelManager):
    @default("client_factory")
    def _bounded(self):
        return BoundedKernelClient
