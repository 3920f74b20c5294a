"""Cells a hostile student adds to a correct notebook that cost the grader outside the sandbox: output floods (what
the kernel prints, and one message ZeroMQ holds whole in the worker) and folders nested past Python's recursion limit
where the grader cleans up (`hostile.ATTACKS`, `hostile.MEMORY_FLOOD`)."""

PRINT_FLOOD = "for _ in range(300):\n    print('x' * 1_000_000)\n"  # 300 MB, through the kernel's own streams
RAW_STREAM_FLOOD = """
import sys
from ipykernel.iostream import OutStream
# ipykernel's plain stream, not the one the grader gave this kernel: every megabyte goes out as a message
_raw = OutStream(sys.stdout.session, sys.stdout.pub_thread, "stdout", watchfd=False)
for _ in range(300):
    _raw.write("y" * 1_000_000)
    _raw.flush()
"""
MULTI_FRAME_FLOOD = """
import sys, time
_frame = b"m" * 1_000_000  # one megabyte, sent as each of 600 frames of one message: libzmq assembles it whole
sys.stdout.session.send(sys.stdout.pub_thread, "stream", {"name": "stdout", "text": "m"}, buffers=[_frame] * 600)
time.sleep(5)
"""
# 1,500 nested folders where the kernel may write and the grader removes afterwards: its socket folder (bound into the
# sandbox). Python 3.11's rmtree recursed into it and raised RecursionError out of the grader's clean-up: the run ended
# with a traceback and no grades.csv, and so did the next one at its start (r20ad W1). Its home (`~`) is its own
# private /tmp, which no grader code removes (r20ai 5): planted there too, as a control that the cell ran.
DEEP_FOLDERS = """
import os
import ipykernel
_start = os.getcwd()
for _top in (os.path.dirname(ipykernel.get_connection_file()), os.path.expanduser("~")):
    try:
        os.chdir(_top)
        for _ in range(1500):
            os.mkdir("d")
            os.chdir("d")
        print("planted in", _top)
    except OSError as error:
        print("not planted in", _top, error)
    finally:
        os.chdir(_start)
"""
