"""A step run as another uid, without an account: root forks and sets the child's ids."""

import os


def as_user(uid: int, step, groups: tuple[int, ...] = ()) -> str:
    """`step()` run in a child process as `uid` (root sets its ids; no account is needed), its gid the same number and
    `groups` its supplementary groups: what it returned, or the type and text of what it raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        try:
            os.setgroups(list(groups))
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            said = repr(step())
        except BaseException as error:
            said = f"{type(error).__name__}: {error}"
        os.write(write, said.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    os.waitpid(pid, 0)
    return said
