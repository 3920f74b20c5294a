"""What a student's kernel may emit into the graded notebook: a cap per cell and per notebook.

A submission can print without end. nbgrader keeps every output in the grading worker's memory (outside the
sandbox, whose limits do not apply there), then writes it to the graded notebook and again to the feedback.
Under `lrcourse grade` the notebook runs through `CappedExecute` (in place of nbgrader's Execute) instead:

- each output is kept only while the cell holds less than `Sandbox.cell_output_kb` and the notebook less
  than `Sandbox.notebook_output_kb` (nbgrader_config.py); text past the cap is cut as it arrives, and what
  follows is dropped unread, with one note in the cell that the student sees in the feedback. An error
  output is always kept (shortened): nbgrader reads a cell's failure from it;
- consecutive text of one stream is kept as one output, so many small prints are not many objects;
- at most `Sandbox.cell_outputs` outputs a cell and `Sandbox.notebook_outputs` a notebook, however small (80,000
  empty outputs fit the byte caps, and every page formgrader renders copies and validates each): past them outputs
  are dropped, and the cell's note says how many;
- a display update (`update_display`) cannot grow the notebook past its cap either (the cell that sent it says so);
  its cost is one measure of the new content and a look-up per output showing that display, not a measure of
  each (1,000 displays sharing one id cost the grader a few seconds a cell, enough to pass the IOPub wait: r20e N3);
- the cell's end not arriving `iopub_timeout` after the kernel's reply (a kernel that sends faster than the grader
  reads: ZeroMQ drops what a full queue cannot take, the cell's end among it, or the grader still reads its backlog)
  ends that cell only, with a note, and the notebook goes on: nbclient failed the whole run, no feedback (r20e N3);
- widget state is not kept (the feedback never shows widgets: `sanitize`), nor are Output widgets followed;
- one message from the kernel is bounded before any of this sees it (`sandbox.kernel_client`).

What a student loses is output only: the grade is decided by the trusted verdicts, outside the kernel.
"""

from __future__ import annotations

import json

from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict

from lrcourse.grading.sandbox.limits import Limits

ERROR_TEXT = 2_000  # characters of an error's name and value kept past the cap
TRACEBACK_LINES = 100  # lines of a traceback (nbgrader's LimitOutput keeps 100 too)
OVERHEAD = 100  # bytes counted for each output kept besides its content: a million empty outputs are not free


def note(text: str) -> dict:
    """A note to the student in a cell's outputs (a stream of its own: never appended to)."""
    from nbformat.v4 import new_output

    return new_output("stream", name="stderr", text=text)


def bytes_note(kept: int, cap_kb: int, where: str) -> str:
    return (
        f"\n[output truncated after {kept} bytes: the grader keeps at most {cap_kb} KB of output "
        f"per {where}; the rest was not kept]\n"
    )


def count_note(kept: int, cap: int, where: str, dropped: int) -> str:
    return (
        f"\n[output truncated after {kept} outputs in this cell: the grader keeps at most {cap} outputs per {where}; "
        f"{dropped} more were not kept]\n"
    )


def update_note(cap_kb: int, where: str) -> str:
    return (
        f"\n[a display update was not kept: the grader keeps at most {cap_kb} KB of output per {where}; "
        "the display shows an earlier state]\n"
    )


def late_note(seconds: float) -> str:
    return (
        f"\n[output truncated: this cell's output was still arriving {seconds:g} s after the cell ended (it was "
        "sent faster than the grader reads it); the rest was not kept]\n"
    )


class CappedExecute(Execute):
    """nbgrader's Execute, keeping at most the caps of output (see the module's text)."""

    store_widget_state = Bool(False)
    raise_on_iopub_timeout = Bool(False).tag(config=True)  # that cell's output cut, with a note (the module's text)
    widget_registry = Dict({})  # no Output widget redirects outputs past the caps

    def preprocess(self, nb, resources=None, km=None):
        self.start_caps()
        return super().preprocess(nb, resources, km)

    def start_caps(self) -> None:
        """The caps from the configuration, nothing kept yet."""
        limits = Limits.from_config(self.config)
        self.cell_cap, self.notebook_cap = limits.cell_output_kb * 1024, limits.notebook_output_kb * 1024
        self.cell_kb, self.notebook_kb = limits.cell_output_kb, limits.notebook_output_kb
        self.cell_outputs, self.notebook_outputs = limits.cell_outputs, limits.notebook_outputs
        self.used: dict[int, int] = {}  # cell index -> bytes kept
        self.counts: dict[int, int] = {}  # cell index -> outputs it holds
        self.count = 0  # outputs the notebook holds: their sum, kept as it changes (a sum per message is not cheap)
        self.notes: dict[int, dict] = {}  # cell index -> its note
        self.parts: dict[int, dict[str, str]] = {}  # cell index -> what its note says: kind ("bytes", ...) -> text
        self.sizes: dict[int, dict[int, int]] = {}  # cell index -> output index -> a kept display's content, in bytes
        self.current = 0  # the cell running
        self.dropped: dict[int, int] = {}  # cell index -> outputs dropped whole past the count caps
        # the one stream output still growing, and the text to join into it once another output starts or the cell
        # is done: appending to the output's text copied up to the cell's cap for each of many tiny messages
        self.growing: tuple[dict, list[str]] | None = None

    def preprocess_cell(self, cell, resources, index):
        self.current = index
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:  # a timeout too: the cell's streams hold all they kept
            self.join_streams()

    def process_message(self, msg, cell, cell_index):
        """nbclient stores any message's `execution_count` in the notebook, uncounted: only a count is kept."""
        content = msg.get("content")
        if isinstance(content, dict) and "execution_count" in content:
            count = content["execution_count"]
            if not (type(count) is int and 0 <= count < 10**9):
                content["execution_count"] = None
        return super().process_message(msg, cell, cell_index)

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widgets are not kept (`store_widget_state` is off), and nbclient would log an unknown comm target's
        name, text the kernel chose, into the log nbgrader keeps in memory: comm messages are dropped."""
        return None

    # --------------------------------------------------------------------------------------------
    def room(self, cell_index: int) -> int:
        return min(self.cell_cap - self.used.get(cell_index, 0), self.notebook_cap - sum(self.used.values()))

    def keep(self, cell_index: int, size: int) -> None:
        self.used[cell_index] = self.used.get(cell_index, 0) + size

    def forget(self, cell_index: int) -> None:
        """The cell's outputs were cleared: what they held no longer counts."""
        for held in (self.used, self.notes, self.parts, self.dropped, self.sizes):
            held.pop(cell_index, None)

    def tally(self, outs: list, cell_index: int) -> None:
        """Count the cell's outputs (its note included) as they are now."""
        self.count += len(outs) - self.counts.get(cell_index, 0)
        self.counts[cell_index] = len(outs)

    def held(self, cell_index: int) -> int:
        """The cell's outputs, its note not counted."""
        return self.counts.get(cell_index, 0) - (cell_index in self.notes)

    def counted_out(self, cell_index: int) -> bool:
        """Whether one more output would pass the cell's or the notebook's count cap (notes not counted)."""
        return self.held(cell_index) >= self.cell_outputs or self.count - len(self.notes) >= self.notebook_outputs

    def say(self, outs: list, cell_index: int, kind: str, text: str) -> None:
        """The cell's one note says `text` for `kind` (beside what it says for other kinds), made if need be."""
        if cell_index not in self.notes:
            self.notes[cell_index] = note("")
            outs.append(self.notes[cell_index])
            self.tally(outs, cell_index)
        parts = self.parts.setdefault(cell_index, {})
        parts[kind] = text
        self.notes[cell_index]["text"] = "".join(parts.values())

    def whole(self, cell_index: int) -> bool:
        """Whether the notebook's cap, not the cell's, is the nearer one for this cell."""
        return self.notebook_cap - sum(self.used.values()) <= self.cell_cap - self.used.get(cell_index, 0)

    def add_note(self, outs: list, cell_index: int) -> None:
        if not {"bytes", "count"} & self.parts.get(cell_index, {}).keys():
            cap, where = (self.notebook_kb, "notebook") if self.whole(cell_index) else (self.cell_kb, "cell")
            self.say(outs, cell_index, "bytes", bytes_note(self.used.get(cell_index, 0), cap, where))

    def drop_counted(self, outs: list, cell_index: int) -> None:
        """One output dropped whole past a count cap: the cell's note says how many so far, unless the cell was
        already cut for its bytes (that note stays: the rest was not kept)."""
        if "bytes" in self.parts.get(cell_index, {}):
            return
        if cell_index not in self.notes:
            self.say(outs, cell_index, "count", "")  # the note counted before `held` reads it
        self.dropped[cell_index] = self.dropped.get(cell_index, 0) + 1
        held = self.held(cell_index)
        cap, where = (self.cell_outputs, "cell") if held >= self.cell_outputs else (self.notebook_outputs, "notebook")
        self.say(outs, cell_index, "count", count_note(held, cap, where, self.dropped[cell_index]))

    # --------------------------------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        if self.clear_before_next_output:  # nbclient's clear_output(wait=True), due now
            outs[:] = []
            self.clear_display_id_mapping(cell_index)
            self.clear_before_next_output = False
            self.forget(cell_index)
        out = self.capped_output(outs, msg, display_id, cell_index)
        self.tally(outs, cell_index)
        return out

    def capped_output(self, outs, msg, display_id, cell_index):
        """An output kept within the caps, or dropped with the cell's note; the output kept, if any."""
        kind, content = msg["msg_type"], msg["content"]
        room, full = self.room(cell_index), self.counted_out(cell_index)
        if kind == "stream":
            return self.stream(outs, content, room, full, cell_index)
        if kind == "error":
            size = self.shorten_error(content, room)
            if (size > room or full) and any(out.get("output_type") == "error" for out in outs):
                # past the caps, the cell's first error is all nbgrader needs
                return self.add_note(outs, cell_index) if size > room else self.drop_counted(outs, cell_index)
        elif kind in ("display_data", "execute_result"):
            size = OVERHEAD + _size(content.get("data")) + _size(content.get("metadata"))
            if size > room:
                return self.add_note(outs, cell_index)
            if full:
                return self.drop_counted(outs, cell_index)
        else:
            return None  # no other message is an output
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None:
            self.keep(cell_index, size)
            if kind != "error":  # what a display update replaces, without measuring it again
                self.sizes.setdefault(cell_index, {})[len(outs) - 1] = size - OVERHEAD
        return out

    def stream(self, outs, content, room: int, full: bool, cell_index: int):
        """Text kept up to the room left, appended to the cell's last output if that is the same stream (never to
        the cell's note); a new output only within the count caps."""
        text, name = content.get("text"), content.get("name")
        if not isinstance(text, str) or name not in ("stdout", "stderr"):
            return None
        last = outs[-1] if outs else None
        same = last is not None and last is not self.notes.get(cell_index)
        same = same and last.get("output_type") == "stream" and last.get("name") == name
        if full and not same:
            return self.drop_counted(outs, cell_index) if text else None
        room -= 0 if same else OVERHEAD
        kept = _cut(text, max(0, room))
        if kept:
            if same:
                self.grow(last, kept)
            else:
                from nbformat.v4 import new_output

                self.join_streams()
                last = new_output("stream", name=name, text=kept)
                outs.append(last)
            self.keep(cell_index, len(kept.encode()) + (0 if same else OVERHEAD))
        if len(kept) < len(text):
            self.add_note(outs, cell_index)
        return last

    def grow(self, output: dict, text: str) -> None:
        """`text` appended to the stream `output`, joined with the rest by `join_streams`."""
        if self.growing is None or self.growing[0] is not output:
            self.join_streams()
            self.growing = (output, [output["text"]])
        self.growing[1].append(text)

    def join_streams(self) -> None:
        """The growing stream output's text joined, once (an output since cleared away is harmless to join)."""
        if self.growing is not None:
            output, parts = self.growing
            output["text"] = "".join(parts)
            self.growing = None

    def shorten_error(self, content: dict, room: int) -> int:
        """An error output always stays (nbgrader reads the cell's failure from it), within the room left or,
        past the caps, shortened to its name and value. Returns the bytes it counts for."""
        for key in ("ename", "evalue"):
            content[key] = str(content.get(key, ""))[:ERROR_TEXT]
        traceback = content.get("traceback")
        lines = [str(line) for line in traceback[:TRACEBACK_LINES]] if isinstance(traceback, list) else []
        size = OVERHEAD + _size(lines) + len(content["ename"]) + len(content["evalue"])
        if size > room:
            lines = [f"{content['ename']}: {content['evalue']}"]
            size = OVERHEAD + 2 * (len(content["ename"]) + len(content["evalue"]))
        content["traceback"] = lines
        return size

    def clear_output(self, outs, msg, cell_index):
        super().clear_output(outs, msg, cell_index)
        if not outs:
            self.forget(cell_index)
            self.tally(outs, cell_index)

    def _update_display_id(self, display_id, msg):
        """A display updated in place (in any cell) only if every cell and the notebook stay within their caps:
        the new content counts instead of the old one (measured once; the old ones' sizes were kept). Refused, the
        running cell's note says so."""
        shown = self._display_id_map.get(display_id)
        if not shown:
            return
        content = msg.get("content", {})
        size = _size(content.get("data")) + _size(content.get("metadata"))
        growth: dict[int, int] = {}
        for cell, indices in shown.items():
            sizes = self.sizes.get(cell, {})
            growth[cell] = sum(size - sizes[index] for index in indices if index in sizes)
        notebook_room = self.notebook_cap - sum(self.used.values())
        too_much = [cell for cell, grow in growth.items() if grow > self.room(cell)]
        if sum(growth.values()) > notebook_room or too_much:
            whole = not too_much or self.whole(too_much[0])
            cap, where = (self.notebook_kb, "notebook") if whole else (self.cell_kb, "cell")
            outs = self.nb.cells[self.current].outputs
            return self.say(outs, self.current, "update", update_note(cap, where))
        if self.unchanged(shown, content):  # a new display of the same content: nbclient would validate it again
            return
        for cell, grow in growth.items():
            self.keep(cell, grow)
            sizes = self.sizes.get(cell, {})
            for index in shown[cell]:
                if index in sizes:
                    sizes[index] = size
        super()._update_display_id(display_id, msg)

    def unchanged(self, shown: dict, content: dict) -> bool:
        """Whether every output showing the display already holds this content."""
        data, metadata = content.get("data"), content.get("metadata")
        try:
            for cell, indices in shown.items():
                outputs = self.nb.cells[cell].outputs
                for index in indices:
                    if outputs[index].get("data") != data or outputs[index].get("metadata") != metadata:
                        return False
        except IndexError:
            return False
        return True

    async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
        """The reply, and the cell's note if its end did not arrive within `iopub_timeout` after it (nbclient
        cancels the reading of the cell's output then, and goes on since `raise_on_iopub_timeout` is off)."""
        reply = await super()._async_poll_for_reply(msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive)
        if task_poll_output_msg.cancelled():
            self.say(cell.outputs, self.current, "late", late_note(self.iopub_timeout))
        return reply

    def on_cell_executed(self, **kwargs):
        """The kernel's reply may carry an error too (nbgrader adds it to the cell): shortened first."""
        content = (kwargs.get("execute_reply") or {}).get("content") or {}
        if content.get("status") == "error":
            self.shorten_error(content, 0)
        return super().on_cell_executed(**kwargs)


def _cut(text: str, room: int) -> str:
    """At most `room` bytes of `text` (UTF-8), never splitting a character."""
    if len(text) <= room and (text.isascii() or len(text.encode()) <= room):
        return text
    return text.encode()[:room].decode(errors="ignore")


def _size(value) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode()) if not value.isascii() else len(value)
    try:
        return len(json.dumps(value))
    except (TypeError, ValueError):
        return 10**12  # not JSON: never kept


def use_capped_execute(config) -> None:
    """Make nbgrader's autograde run notebooks through CappedExecute (its own preprocessors otherwise)."""
    from nbgrader.converters import Autograde

    steps = list(
        config.Autograde.get("autograde_preprocessors", Autograde.class_traits()["autograde_preprocessors"].default())
    )
    names = (Execute, "nbgrader.preprocessors.Execute", "nbgrader.preprocessors.execute.Execute")
    config.Autograde.autograde_preprocessors = [CappedExecute if step in names else step for step in steps]
