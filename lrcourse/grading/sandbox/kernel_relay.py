"""The process jupyter_client starts and manages for a kernel forked by the kernel zygote.

Run as `python -I -S kernel_relay.py FD` with FD one end of a socket whose other end is held by the
kernel's keeper (`kernel_zygote.py`). Signals sent to this process go on to the kernel; it exits with the
kernel's exit status once the kernel ends; if it is killed, the keeper sees the socket close and kills
the kernel. Standard library only, and no site-packages: it starts in milliseconds.
"""

import os
import signal
import socket
import sys


def main() -> None:
    link = socket.socket(fileno=int(sys.argv[1]))

    def forward(signum, frame):
        try:
            link.sendall(b"signal %d\n" % signum)
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    received = b""
    while True:
        try:
            chunk = link.recv(64)
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    words = received.split()
    code = int(words[1]) if len(words) >= 2 and words[0] == b"exit" and words[1].lstrip(b"-").isdigit() else 1
    os._exit(code & 0xFF if code >= 0 else 128 + (-code & 0x7F))


if __name__ == "__main__":
    main()
