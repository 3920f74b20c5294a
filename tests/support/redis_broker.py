"""A throw-away Redis server on 127.0.0.1 with a password, for the grading queue's tests (`lrcourse worker`).

Installs Debian's `redis-server` when root on a Debian machine and none is present (as `postgres` does for
PostgreSQL), runs it in a temporary folder on a free port, and stops it afterwards: no system Redis is used.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from support.labserver import free_port


def server_binary() -> str:
    found = shutil.which("redis-server")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], check=True, capture_output=True, env=env)
        found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server not found: install Debian's `redis-server` package (apt-get install redis-server)"
        )
    return found


@contextmanager
def redis_server():
    """Yield the broker URL (redis://:password@127.0.0.1:port/0) of a fresh server, stopped afterwards."""
    home = Path(tempfile.mkdtemp(prefix="lrcourse-redis-"))
    port, password = free_port(), secrets.token_hex(16)
    config = home / "redis.conf"  # the password in a file, not on the server's command line
    config.write_text(
        f'port {port}\nbind 127.0.0.1\nrequirepass {password}\ndir {home}\nsave ""\nappendonly no\n'
        f"logfile {home / 'redis.log'}\n"
    )
    server = subprocess.Popen([server_binary(), str(config)], cwd=home)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    try:
        import redis

        for _ in range(100):
            try:
                with redis.Redis.from_url(url) as client:
                    client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(home, ignore_errors=True)
