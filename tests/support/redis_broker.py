"""A throw-away Redis server on 127.0.0.1 with a password, for the grading queue's tests (`lrcourse worker`).

Installs Debian's `redis-server` when root on a Debian machine and none is present (as `postgres` does for
PostgreSQL), runs it in a temporary folder on a free port, and stops it afterwards: no system Redis is used.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from support import debian
from support.labserver import free_port


def server_binary() -> str:
    found = shutil.which("redis-server")
    if not found and debian.install("redis-server"):
        found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server not found: install Debian's `redis-server` package (apt-get install redis-server)"
        )
    return found


@contextmanager
def redis_server():
    """Yield the broker URL (redis://:password@127.0.0.1:port/0) of a fresh server, stopped afterwards."""
    with restartable_redis_server() as (url, _):
        yield url


@contextmanager
def restartable_redis_server():
    """Yield (url, restart): `redis_server`'s, and a function that stops the server and starts it again on the same
    port and password, without its data (it keeps none: no snapshot, no append-only file), as a broker without
    persistence restarted mid-run; `restart(while_down)` calls `while_down()` while the server is stopped."""
    home = Path(tempfile.mkdtemp(prefix="lrcourse-redis-"))
    port, password = free_port(), secrets.token_hex(16)
    config = home / "redis.conf"  # the password in a file, not on the server's command line
    config.write_text(
        f'port {port}\nbind 127.0.0.1\nrequirepass {password}\ndir {home}\nsave ""\nappendonly no\n'
        f"logfile {home / 'redis.log'}\n"
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    servers = [started(config, url)]

    def restart(while_down=None) -> None:
        servers[-1].terminate()
        servers[-1].wait(10)
        if while_down is not None:
            while_down()
        servers.append(started(config, url))

    try:
        yield url, restart
    finally:
        servers[-1].terminate()
        servers[-1].wait(10)
        shutil.rmtree(home, ignore_errors=True)


def started(config: Path, url: str) -> subprocess.Popen:
    """A server of `config`, once it answers at `url`."""
    import redis

    server = subprocess.Popen([server_binary(), str(config)], cwd=config.parent)
    for _ in range(100):
        try:
            with redis.Redis.from_url(url) as client:
                client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    return server


def fill(client) -> None:
    """The Redis behind `client` made full: its maxmemory below what it holds already (`noeviction`: writes refused,
    nothing evicted)."""
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", max(1, int(client.info("memory")["used_memory"]) // 2))


@contextmanager
def full(client):
    """The Redis behind `client` made full (`fill`), its room given back on leaving, whatever happened inside (a
    module's broker is shared)."""
    fill(client)
    try:
        yield
    finally:
        client.config_set("maxmemory", 0)
