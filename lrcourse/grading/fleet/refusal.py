"""A broker that answers and refuses this URL's user: a command its ACL forbids, a wrong user or password, a read-only
replica. These were said to be a broker that "does not answer", to be run again when it answers (`lrcourse grade`, exit
3), or ended a worker with a traceback: no rerun and no wait cures them, so both sides say what the broker refused and
what to fix (`fleet.BrokerUnreachable`, `fleet_start.ready`). The README's ACL rule for the fleet's user, `+@all
-@admin -@dangerous`, lacked `+info`: Redis 7 counts INFO as @dangerous, and `fleet_full.has_room` runs it before every
write."""

from __future__ import annotations

CHAIN_DEPTH = 8  # causes followed (kombu and Celery wrap redis-py's error)
ACL_FIX = (
    "its Redis ACL user must be allowed every command the fleet runs, INFO among them (Redis 7 counts INFO as "
    '@dangerous): add `+info` to its rule, e.g. `ACL SETUSER lrcourse +info` (the README\'s "Who holds the password")'
)


def causes(error: BaseException):
    """`error`, then each error it was raised from, at most CHAIN_DEPTH of them (kombu and Celery wrap redis-py's,
    which wraps the socket's)."""
    seen = error
    for _ in range(CHAIN_DEPTH):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def refusal(error: BaseException) -> str | None:
    """What the broker refused and what to fix, if `error` (or an error it was raised from: kombu's OperationalError
    wraps redis-py's) says that Redis answered and refused this URL's user: a command its ACL forbids (INFO, which
    `fleet_full.has_room` runs before every write), a wrong user or password, a read-only replica. None otherwise.
    These were said to be a broker that "does not answer", with the advice to run again when it answers: no rerun
    cures them."""
    import redis

    for seen in causes(error):
        said = " ".join(str(seen).split())[:200]
        if isinstance(seen, redis.exceptions.NoPermissionError):
            return f"a command refused by its ACL, NoPermissionError: {said}: {ACL_FIX}"
        if isinstance(seen, redis.AuthenticationError):
            return (
                f"AuthenticationError: {said}: the user name or password in the broker file is not the one Redis "
                "holds (its requirepass, or its ACL user's password): correct the broker file"
            )
        if isinstance(seen, redis.exceptions.ReadOnlyError):
            return f"ReadOnlyError: {said}: this Redis is a read-only replica: give the primary's address"
    return None
