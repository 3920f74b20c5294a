"""The grader's output caps (`output_caps.CappedExecute`) with a real kernel whose streams are ipykernel's own,
as a student's code can make them (the end-to-end floods are in test_hostile.py; the count of outputs, with its
own, in test_output_count.py; floods of display updates in test_output_display_floods.py): what a cell and a
notebook keep, the note the student sees, errors kept past the cap, cleared output no longer counted, and a message
too large for the grader to hold."""

from __future__ import annotations

import json

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from lrcourse.grading.autograde.output_caps import OVERHEAD, CappedExecute
from lrcourse.grading.sandbox.kernel_client import MESSAGE_MB, BoundedKernelClient

from support.capped_kernel import BoundedKernelManager

CELLS = [
    # 0: a live display updated in place 300 times: its last state is kept, counted once
    "from IPython.display import HTML, display\nh = display(HTML('start'), display_id=True)\n"
    "for i in range(300):\n    h.update(HTML(str(i % 10) * 10_000))",
    # 1: a progress display cleared and redrawn: only what is shown at the end counts
    "from IPython.display import clear_output\nfor i in range(10):\n    clear_output()\n    print(str(i) * 50_000)",
    # 2: many small prints, past the cell's cap
    "for _ in range(200):\n    print('x' * 999)",
    # 3: one large write
    "import sys\nsys.stdout.write('y' * 5_000_000)\nsys.stdout.flush()",
    # 4: displays past the notebook's cap
    "from IPython.display import HTML, display\nfor _ in range(20):\n    display(HTML('z' * 10_000))",
    # 5: an error past every cap
    "raise ValueError('v' * 100_000)",
    # 6: nothing more fits
    "print('AFTER-MARK')",
    # 7: errors forged on the kernel's own channel, past every cap, then the cell's real one
    "k = get_ipython().kernel\nfor _ in range(300):\n"
    "    k.session.send(k.iopub_socket, 'error', {'ename': 'E', 'evalue': 'x' * 2000, 'traceback': ['t' * 4000]},"
    " parent=k.get_parent('shell'))\nraise RuntimeError('last')",
    # 8: a forged execution count of a megabyte, on a message of no known type
    "k = get_ipython().kernel\nk.session.send(k.iopub_socket, 'bogus', {'execution_count': 'Z' * 1_000_000},"
    " parent=k.get_parent('shell'))",
]


def execute(cells: list[str], tmp_path, cell_kb: int = 64, notebook_kb: int = 200):
    config = Config()
    config.Sandbox.cell_output_kb, config.Sandbox.notebook_output_kb = cell_kb, notebook_kb
    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    run = CappedExecute(config=config, kernel_name="python3", kernel_manager_class=BoundedKernelManager)
    run.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    return notebook


def kept(cell) -> int:
    return sum(len(json.dumps(output)) for output in cell.outputs if "output truncated" not in str(output))


def notes(cell) -> list[str]:
    return [output.text for output in cell.outputs if "output truncated" in output.get("text", "")]


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    return execute(CELLS, tmp_path_factory.mktemp("caps")).cells


def test_a_display_updated_in_place_keeps_its_last_state(capped):
    (output,) = capped[0].outputs
    assert output.data["text/html"] == "9" * 10_000


def test_a_cleared_output_no_longer_counts(capped):
    assert [output.text for output in capped[1].outputs] == ["9" * 50_000 + "\n"]


def test_a_cell_keeps_its_cap_of_many_prints_as_one_output_and_says_so(capped):
    stream, note = capped[2].outputs
    assert stream.text == (("x" * 999 + "\n") * 200)[: 64 * 1024 - OVERHEAD]  # the output itself counts too
    assert (
        note.text.strip().startswith("[output truncated after 65536 bytes") and "64 KB of output per cell" in note.text
    )


def test_one_large_write_is_cut_to_the_cap(capped):
    assert 60_000 < kept(capped[3]) < 66_000 and notes(capped[3])


def test_the_notebook_keeps_its_cap_and_says_so(capped):
    assert sum(kept(cell) for cell in capped) < 200 * 1024 + 10_000
    assert [output.output_type for output in capped[4].outputs][-1] == "stream"
    assert "200 KB of output per notebook" in notes(capped[4])[0]
    assert notes(capped[6]) and "AFTER-MARK" not in str(capped[6].outputs)


def test_an_error_past_the_cap_is_kept_short(capped):
    (error,) = [output for output in capped[5].outputs if output.output_type == "error"]
    assert error.ename == "ValueError" and len(error.evalue) == 2_000 and len(json.dumps(error)) < 5_000


def test_a_message_too_large_to_hold_closes_the_kernels_channel(tmp_path):
    """ZeroMQ drops the connection instead of the grader holding the message: the cell's end never arrives, so its
    output is cut there with a note, and the run goes on (nbclient's IOPub timeout once failed the whole run, no
    feedback: r20e N3)."""
    flood = f"import sys\nsys.stdout.write('w' * {(MESSAGE_MB + 4) * 2**20})\nsys.stdout.flush()"
    notebook = execute([flood, "print('after')"], tmp_path)
    assert "still arriving 4 s after the cell ended" in notebook.cells[0].outputs[-1].text
    assert len(json.dumps(notebook)) < 10_000


def test_forged_errors_past_the_caps_leave_one_error_and_the_cells_own(capped):
    """Past the caps a cell keeps its first error; nbgrader adds the reply's own when its name differs."""
    errors = [output for output in capped[7].outputs if output.output_type == "error"]
    assert [error.ename for error in errors] == ["E", "RuntimeError"], errors
    assert len(json.dumps(capped[7].outputs)) < 10_000


def test_a_forged_execution_count_is_not_kept(capped):
    assert capped[8].execution_count is None or type(capped[8].execution_count) is int


def test_comm_messages_are_dropped_without_logging_their_target(caplog):
    run = CappedExecute()
    message = {"msg_type": "comm_open", "content": {"comm_id": "1", "target_name": "t" * 100_000, "data": {}}}
    with caplog.at_level("DEBUG"):
        assert run.handle_comm_msg([], message, 0) is None
    assert "t" * 1000 not in caplog.text


def reaches(socket, identity: bytes, seconds: float) -> bool:
    """Whether a kernel's ROUTER socket can deliver a message to the grader's client within `seconds`."""
    import time

    import zmq

    socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a message to no connected peer raises instead of vanishing
    end = time.monotonic() + seconds
    while True:
        try:
            socket.send_multipart([identity, b"x" * 1000], zmq.NOBLOCK)
            return True
        except zmq.ZMQError:
            if time.monotonic() > end:
                return False
            time.sleep(0.01)


def test_the_kernel_reaches_the_grader_only_on_the_channels_it_reads(tmp_path):
    """stdin and control are never read: not connected, so nothing the kernel sends on them is held. (A fake
    kernel's sockets: the kernel is the student's, it can send what it likes on any channel it has.)"""
    import zmq

    from lrcourse.grading.sandbox.kernel_client import CONTROL_KB, manager_context

    context = zmq.Context()
    channels = ("shell", "iopub", "stdin", "control", "hb")
    kinds = {"iopub": zmq.PUB, "hb": zmq.REP}
    kernel = {channel: context.socket(kinds.get(channel, zmq.ROUTER)) for channel in channels}
    info = {"transport": "ipc", "ip": str(tmp_path / "k")}
    for port, channel in enumerate(channels, start=1):
        kernel[channel].bind(f"ipc://{tmp_path / 'k'}-{port}")
        info[f"{channel}_port"] = port
    client = BoundedKernelClient()
    client.load_connection_info(info)
    client.start_channels()  # nbclient asks for every channel
    try:
        identity = client.session.bsession  # the client's identity on shell, stdin and control alike
        assert reaches(kernel["shell"], identity, 5)  # the control: a channel the grader reads is reached
        assert not reaches(kernel["stdin"], identity, 0.5) and not reaches(kernel["control"], identity, 0.2)
    finally:
        client.stop_channels()
        context.destroy(linger=0)
    assert client._stdin_channel is None and client._control_channel is None  # stopping connected none either
    manager = manager_context()  # the manager's control socket: one small message at most
    control = manager.socket(zmq.DEALER)
    assert (control.getsockopt(zmq.RCVHWM), control.getsockopt(zmq.MAXMSGSIZE)) == (1, CONTROL_KB << 10)
    manager.destroy(linger=0)


def test_many_tiny_stream_messages_are_kept_in_linear_time():
    """Appending each message to the output's text copied the text so far each time: 220,000 messages of 20 bytes
    into a cell of 4 MB copied about 440 GB (tens of seconds). Joined once, they take about a second, and the text
    is the same."""
    import time

    config = Config()
    config.Sandbox.cell_output_kb, config.Sandbox.notebook_output_kb = 4096, 4096
    run = CappedExecute(config=config, kernel_name="python3")
    run.start_caps()
    run.clear_before_next_output = False  # nbclient sets it as a cell starts
    outs = []
    message = {"msg_type": "stream", "content": {"name": "stdout", "text": "0123456789abcdefghi\n"}}
    start = time.monotonic()
    for _ in range(220_000):
        run.output(outs, message, None, 0)
    run.join_streams()
    assert time.monotonic() - start < 5
    assert [output.output_type for output in outs] == ["stream", "stream"]  # the text, then the cell's note
    assert outs[0].text == ("0123456789abcdefghi\n" * 220_000)[: (4096 << 10) - OVERHEAD]
    assert "output truncated" in outs[1].text


def test_a_message_part_nested_too_deep_is_refused_unparsed_and_honest_ones_pass():
    """The grader's session parses a kernel's message part only within MAX_MESSAGE_DEPTH (the manager is told, once
    per refused part, with the reason); a part exactly that deep, or wide and shallow, parses as before; a part that
    is not JSON is refused too (F14)."""
    from jupyter_client.session import Session

    from lrcourse.grading.sandbox.kernel_client import MAX_MESSAGE_DEPTH, NOT_JSON, MessageRefused, depth_bounded

    told = []
    unpack = depth_bounded(Session().unpack, told.append)
    deepest = b"[" * MAX_MESSAGE_DEPTH + b"]" * MAX_MESSAGE_DEPTH
    assert unpack(b'{"data": ' + deepest[1:-1] + b"}") == {"data": json.loads(deepest[1:-1])}
    assert unpack(b"[" + b"[1, {}]," * 20_000 + b"[]]")[-1] == [] and told == []  # 80,000 values: within
    for part in (b"[" * (MAX_MESSAGE_DEPTH + 1) + b"]" * (MAX_MESSAGE_DEPTH + 1), b"]" + b"[" * 100_000):
        with pytest.raises(MessageRefused, match=f"nested deeper than {MAX_MESSAGE_DEPTH} levels"):
            unpack(part)
    assert len(told) == 2 and all("nested deeper" in reason for reason in told)
    for part in (b'{"payload": ]}', b'{"a": "\\q"}'):  # F14: shallow, not JSON (a stray bracket, a bad escape)
        with pytest.raises(MessageRefused, match="not JSON"):
            unpack(part)
    assert told[2:] == [NOT_JSON, NOT_JSON]


def test_a_message_part_of_too_many_values_is_refused_unparsed_and_one_at_the_bound_passes():
    """F15: four 15 MB parts of `[],[],...` cost the grader 17.7 s of CPU and 1.9 GB outside the sandbox; a part of
    more than MAX_MESSAGE_VALUES JSON values is refused before it is parsed. Separators inside strings (a figure's
    text, a traceback) do not count."""
    from jupyter_client.session import Session

    from lrcourse.grading.sandbox.kernel_client import (
        MAX_MESSAGE_VALUES,
        TOO_LARGE,
        TOO_MANY_VALUES,
        MessageRefused,
        depth_bounded,
    )

    told, parsed = [], []
    unpack = depth_bounded(lambda data: parsed.append(len(data)) or json.loads(data), told.append)
    at_bound = b"[" + b"0," * (MAX_MESSAGE_VALUES - 1) + b"0]"  # MAX_MESSAGE_VALUES separators and openers
    assert len(unpack(at_bound)) == MAX_MESSAGE_VALUES
    quoted = json.dumps({"text": "[],{}:" * 1_000_000}).encode()
    assert unpack(quoted) == json.loads(quoted) and told == []
    parsed.clear()
    for part in (b"[" + b"0," * MAX_MESSAGE_VALUES + b"0]", b"[" + b"[]," * 5_000_000 + b"[]]"):
        with pytest.raises(MessageRefused, match="more than 100,000 JSON values"):
            unpack(part)
    assert told == [TOO_MANY_VALUES, TOO_MANY_VALUES] and parsed == [], "never handed to the parser"
    assert depth_bounded(Session().unpack, told.append)(at_bound)[-1] == 0

    def out_of_memory(data):  # the worker's memory cap reached while parsing (without root: no cgroup to stop it)
        raise MemoryError

    with pytest.raises(MessageRefused, match="too large for the grader to read"):
        depth_bounded(out_of_memory, told.append)(b"{}")
    assert told[-1] == TOO_LARGE


@pytest.mark.parametrize(
    "case",
    ["bad signature", "repeated signature", "no delimiter", "too few parts", "header without msg_id", "list header",
     "msg_type a number", "list content", "list metadata", "parent header a string"],
)  # fmt: skip
def test_a_message_the_session_cannot_unpack_is_refused_as_malformed(case):
    """F15: jupyter_client's feed_identities and deserialize raise ValueError, KeyError or TypeError on these, which
    went on into nbclient (a vague reason, its traceback in the instructor's terminal); nbclient reads each part as
    an object. The grader's session refuses every one (the manager is told) and unpacks an honest message."""
    from jupyter_client.session import Session

    from lrcourse.grading.sandbox.kernel_client import MALFORMED, MeasuredSession, MessageRefused

    kernel = Session(key=b"k")
    told = []
    # the channels read with a clone of the manager's session (jupyter_client's get_connection_info makes one)
    grader = MeasuredSession(told.append, key=b"k", session=kernel.session).clone()
    honest = kernel.serialize(kernel.msg("stream", {"name": "stdout", "text": "hi"}))
    header = kernel.pack(kernel.msg_header("stream"))

    def signed(head=header, parent=b"{}", metadata=b"{}", content=b'{"name": "stdout", "text": "x"}'):
        parts = [head, parent, metadata, content]
        return [b"<IDS|MSG>", kernel.sign(parts), *parts]

    frames = {
        "bad signature": [b"<IDS|MSG>", b"0" * 64, *signed()[2:]],
        "repeated signature": honest,
        "no delimiter": [b"a", b"b"],
        "too few parts": [b"<IDS|MSG>", kernel.sign([b"{}", b"{}"]), b"{}", b"{}"],
        "header without msg_id": signed(head=b'{"msg_type": "stream"}'),
        "list header": signed(head=b"[]"),
        "msg_type a number": signed(head=header.replace(b'"msg_type": "stream"', b'"msg_type": 7')),
        "list content": signed(content=b"[]"),
        "list metadata": signed(metadata=b"[1]"),
        "parent header a string": signed(parent=b'"x"'),
    }[case]
    _, message = grader.feed_identities(honest)
    assert grader.deserialize(message)["content"] == {"name": "stdout", "text": "hi"} and told == []
    with pytest.raises(MessageRefused, match="malformed"):
        _, message = grader.feed_identities(frames)
        grader.deserialize(message)
    assert told == [MALFORMED]


def test_a_header_or_parent_header_over_its_bound_is_refused_unparsed_and_one_within_passes(monkeypatch):
    """F16: jupyter_client reads every string of a header and a parent header as a possible date: 99,900 of them in
    both, within MAX_MESSAGE_VALUES, cost the grader 2.4 s of CPU per message. A frame of either over HEADER_KB is
    refused before anything of the message is parsed (the manager is told); a header within it is unpacked."""
    import zmq
    from jupyter_client import session as jupyter_session
    from jupyter_client.session import Session

    from lrcourse.grading.sandbox.kernel_client import HEADER_KB, TOO_LARGE, MeasuredSession, MessageRefused

    dated = []
    extract_dates = jupyter_session.extract_dates
    monkeypatch.setattr(jupyter_session, "extract_dates", lambda obj: dated.append(1) or extract_dates(obj))
    kernel = Session(key=b"k")
    told = []
    grader = MeasuredSession(told.append, key=b"k", session=kernel.session).clone()
    dates = ["2026-12-05T10:52:28"] * ((HEADER_KB << 10) // 20)  # zone-less ISO dates: each one tried as a date

    def signed(head: dict, parent: dict) -> list[bytes]:
        parts = [kernel.pack(head), kernel.pack(parent), b"{}", b'{"name": "stdout", "text": "x"}']
        return [kernel.sign(parts), *parts]

    header = kernel.msg_header("stream")
    within = signed({**header, "pad": "x" * ((HEADER_KB << 10) - 300)}, {})
    assert len(within[1]) <= HEADER_KB << 10
    assert grader.deserialize(within)["header"]["pad"] and told == [] and dated == [1, 1]
    dated.clear()
    for frames in (signed({**header, "dates": dates}, {}), signed(header, {"dates": dates})):
        assert max(len(frames[1]), len(frames[2])) > HEADER_KB << 10
        for copy in (True, False):
            with pytest.raises(MessageRefused, match="too large for the grader to read"):
                grader.deserialize(frames if copy else [zmq.Frame(frame) for frame in frames], copy=copy)
    assert told == [TOO_LARGE] * 4 and dated == [], "never parsed"
