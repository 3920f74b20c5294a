"""A broker that answers and refuses this URL's user: a command its ACL forbids, a wrong user or password, a read-only
replica. These were said to be a broker that "does not answer", to be run again when it answers (`lrcourse grade`, exit
3), or ended a worker with a traceback: no rerun and no wait cures them, so both sides say what the broker refused and
what to fix (`fleet.BrokerUnreachable`, `fleet_start.ready`). The README's ACL rule for the fleet's user, `+@all
-@admin -@dangerous`, lacked `+info`: Redis 7 counts INFO as @dangerous, and `fleet_full.has_room` runs it before every
write."""

from __future__ import annotations

NO_PASSWORD_VARIABLE = "LRCOURSE_BROKER_NO_PASSWORD"  # 1: a URL without a password is taken (`with_password`)
READ_ONLY = "ReadOnlyError"  # how a replica's refusal begins (`refusal`): said as such, not as a user refused
CHAIN_DEPTH = 8  # causes followed (kombu and Celery wrap redis-py's error)
ACL_FIX = (
    "its Redis ACL user must be allowed every command the fleet runs, INFO among them (Redis 7 counts INFO as "
    '@dangerous): add `+info` to its rule, e.g. `ACL SETUSER lrcourse +info` (the README\'s "Who holds the password")'
)
KEY_FIX = (
    "its Redis ACL user must be allowed every key the fleet reads and writes (lrcourse:*, Celery's results "
    "celery-task-meta-*, the queues' lists, kombu's unacked and unacked_index, ...): give it `~*`, e.g. "
    '`ACL SETUSER lrcourse ~*` (the README\'s rule, "Who holds the password")'
)
CHANNEL_FIX = (
    "its Redis ACL user must be allowed the Pub/Sub channels Celery and kombu use: give it `&*`, e.g. "
    '`ACL SETUSER lrcourse &*` (the README\'s rule, "Who holds the password")'
)
# what Redis's NOPERM text names (Redis 7: "... to run the 'info' command", "... to access one of the keys used as
# arguments", "... one of the channels ...") -> what was refused and the rule that allows it
REFUSED = (("keys", "a key refused by its ACL", KEY_FIX), ("channels", "a channel refused by its ACL", CHANNEL_FIX))


class BrokerUrlError(ValueError):
    """The broker's URL cannot be used; the text says why and never holds the URL (it holds the password). Here, not
    in `fleet` (which names it too), so that `with_password` raises it without importing `fleet`."""


def causes(error: BaseException):
    """`error`, then each error it was raised from, at most CHAIN_DEPTH of them (kombu and Celery wrap redis-py's,
    which wraps the socket's)."""
    seen = error
    for _ in range(CHAIN_DEPTH):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def refusal(error: BaseException, source: str = "the broker URL file (--broker-file)") -> str | None:
    """What the broker refused and what to fix, if `error` (or an error it was raised from: kombu's OperationalError
    wraps redis-py's) says that Redis answered and refused this URL's user: a command, a key or a channel its ACL
    forbids (each with the part of the README's rule that allows it), a wrong user or password (`source`: where the
    URL came from, to correct), a read-only replica (`replica`). None otherwise. These were said to be a broker that
    "does not answer", with the advice to run again when it answers: no rerun cures them."""
    import redis

    for seen in causes(error):
        said = " ".join(str(seen).split())[:200]
        if isinstance(seen, redis.exceptions.NoPermissionError):
            what, fix = next(
                ((w, f) for word, w, f in REFUSED if word in said), ("a command refused by its ACL", ACL_FIX)
            )
            return f"{what}, NoPermissionError: {said}: {fix}"
        if isinstance(seen, redis.AuthenticationError):
            return (
                f"AuthenticationError: {said}: the user name or password in {source} is not the one Redis holds (its "
                f"requirepass, or its ACL user's password): correct {source}"
            )
        if isinstance(seen, redis.exceptions.ReadOnlyError):
            return f"{READ_ONLY}: {said}: put the primary's address in {source} (a replica takes no writes)"
    return None


def refused_as(refused: str) -> str:
    """How a broker that gave `refused` (`refusal`) is said to refuse: a replica takes no writes, whoever asks; any
    other refusal is of this URL's user."""
    return "takes no writes" if refused.startswith(READ_ONLY) else "refuses this URL's user"


def replica(client) -> BaseException | None:
    """A ReadOnlyError naming the primary if the Redis of `client` is a read-only replica (it answers INFO and PING,
    and refuses the first write: a worker ended with Celery's "Unrecoverable error" traceback), for `refusal`; read
    from INFO's replication section, which the fleet's user may run. None if it takes writes."""
    import redis

    found = client.info("replication")
    if found.get("role") not in ("slave", "replica") or not found.get("slave_read_only", 1):
        return None
    primary = f"{found.get('master_host', '?')}:{found.get('master_port', '?')}"
    return redis.exceptions.ReadOnlyError(f"this Redis is a read-only replica; its primary is at {primary}")


class Located(str):
    """A broker URL with where it was read (`source`: the broker URL file and its path, or the variable), so that a
    refusal of its password names what to correct (`source_of`)."""

    def __new__(cls, url: str, source: str):
        located = super().__new__(cls, url)
        located.source = source
        return located


def with_password(url: str, source: str) -> str:
    """`url` (read from `source`, which it then carries: `Located`) if it holds a password before its host, or if
    $NO_PASSWORD_VARIABLE is 1 (a local test broker on a machine of one's own); else `BrokerUrlError`: the queue
    carries students' code and results, and a broker without a password lets anyone who reaches it read every
    submission and forge any grade (issue 25: the broker requires a password). A password in the URL's query
    (`?password=`, which redis-py takes) is refused whatever the variable says: it is the one form the password check
    does not see (it was refused as "without a password") and the messages do not mask. Said without the URL."""
    import os
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    if any(name.lower() == "password" for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise BrokerUrlError(
            f"{source} holds the password in the URL's query (?password=...): write it before the host instead, "
            "redis://:PASSWORD@HOST:6379/0 (or redis://USER:PASSWORD@...), the form whose password is checked and "
            "kept out of every message"
        )
    if parts.password or os.environ.get(NO_PASSWORD_VARIABLE) == "1":
        return Located(url, source)
    raise BrokerUrlError(
        f"{source} holds a URL without a password (redis://:PASSWORD@HOST:6379/0, or redis://USER:PASSWORD@...): the "
        "queue carries students' code, and a broker without one lets whoever reaches it read every submission and "
        f"forge grades; give Redis a password (requirepass) and put it in the URL, or, for a local test broker only, "
        f"set ${NO_PASSWORD_VARIABLE}=1"
    )


def source_of(url: str, variable: str) -> str:
    """Where this command read the broker's URL, for a refusal's "correct ...": the source it carries (`Located`: the
    broker URL file with its path, or the variable), else the environment `variable` ($LRCOURSE_BROKER_URL,
    `fleet.broker_url` reads it only when no file is given) if it holds this URL, else the broker URL file."""
    import os

    if isinstance(getattr(url, "source", None), str):
        return url.source
    return f"${variable}" if os.environ.get(variable, "").strip() == url else "the broker URL file (--broker-file)"
