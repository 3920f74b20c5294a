"""The kernel's side of the output caps (`output_caps` is the grader's): an honest flood stays in the kernel.

A student's kernel prints through ipykernel's `OutStream`, which buffers what is written and sends it to the
grader every 0.2 s, as one message however large. Under `lrcourse grade` the kernel zygote starts each
kernel with `BoundedOutStream` instead: each stream sends at most a little more than the grader keeps of a
cell (`Sandbox.cell_output_kb`) and of the notebook, and drops the rest as it is written, so a notebook that
prints gigabytes costs neither its kernel's memory nor the grader's time. A little more: the grader sees that
the cap was passed and says so in the cell. Code in the kernel can undo this (it is the student's process);
then the grader's own caps and message bounds (`output_caps`) still hold.
"""

from __future__ import annotations

from ipykernel.iostream import OutStream

MARGIN = 64 * 1024  # characters sent past a cap, so that the grader sees it was passed


class BoundedOutStream(OutStream):
    """ipykernel's OutStream, passing on at most `cell_chars` per cell and `notebook_chars` in all."""

    cell_chars = 2**20 + MARGIN  # set from the grader's caps by the kernel zygote, before the kernel starts
    notebook_chars = 8 * 2**20 + MARGIN

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.written: dict = {}  # the cell's request id -> characters passed on
        self.total = 0

    def write(self, string):
        if not isinstance(string, str):
            return super().write(string)  # raises ipykernel's TypeError
        parent = self.parent_header.get("msg_id") if isinstance(self.parent_header, dict) else None
        used = self.written.get(parent, 0)
        room = max(0, min(self.cell_chars - used, self.notebook_chars - self.total))
        kept = string[:room]
        if kept:
            self.written[parent] = used + len(kept)
            self.total += len(kept)
            super().write(kept)
        return len(string)


def bound(cell_kb: int, notebook_kb: int) -> str:
    """Set the bounds from the grader's caps; the argument that makes an IPython kernel use this stream."""
    BoundedOutStream.cell_chars = cell_kb * 1024 + MARGIN
    BoundedOutStream.notebook_chars = notebook_kb * 1024 + MARGIN
    return f"--IPKernelApp.outstream_class={BoundedOutStream.__module__}.{BoundedOutStream.__qualname__}"
