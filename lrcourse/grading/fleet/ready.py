"""The enqueuing command's reads of the results its workers stored in the broker, and their end there: which waiting
tasks have a result (`ready_tasks`: existence only), each read whole just before it is written (`stored`), checked
(`checked`), and dropped once written (`forget`).

Who trusts whom: the broker is trusted to keep what it was given (it holds the course's password-protected queue), but
a stored result is a worker's bytes, and the enqueuer does not trust them: each is read raw and shape-checked by
`fleet_result`, and one that cannot be read or accepted fails its student with the reason, never the run."""

from __future__ import annotations

from lrcourse.grading.fleet import broker as fleet, result as fleet_result
from lrcourse.grading.fleet.lease import taken_key
from lrcourse.grading.fleet.result import Stored

EXISTS_CHUNK = 512  # tasks asked about in one pipelined round trip (`ready_tasks`)


def ready_tasks(client, waiting: dict, batch: int, watched: set[str] = frozenset()) -> list[str]:
    """At most `batch` of the waiting tasks whose result is stored, the longest waiting first, the `watched` ones (a
    failure waited on, `fleet_grade.Run.superseded`) after the others: `batch` of them, the longest waiting, filled
    every batch, and the results behind waited up to `fleet_stranded.ALIVE_SECONDS` (R25l N1). Only existence is asked
    here; each result is read whole just before it is written (`stored`): the command's memory holds one result at a
    time (Celery's get_many read and decoded every ready result at once: 300 results of 1.2 MB grew it by 692 MB)."""
    found = stored_among(client, [task for task in waiting if task not in watched], batch)
    return found + stored_among(client, [task for task in waiting if task in watched], batch - len(found))


def stored_among(client, tasks: list[str], most: int) -> list[str]:
    """The first `most` of `tasks` whose result is stored, asked EXISTS_CHUNK a round trip."""
    found = []
    for start in range(0, len(tasks), EXISTS_CHUNK):
        if len(found) >= most:
            break
        chunk = tasks[start : start + EXISTS_CHUNK]
        with client.pipeline(transaction=False) as pipe:
            for task in chunk:
                pipe.exists(fleet.result_key(task))
            found += [task for task, present in zip(chunk, pipe.execute()) if present]
    return found[:most]


def stored(client, task: str) -> Stored:
    """The task's stored result, read and checked (`checked`)."""
    return checked(client.get(fleet.result_key(task)))


def checked(raw) -> Stored:
    """A stored result read and checked (`fleet_result`); one that cannot be read or accepted becomes a failure of
    that student with the reason, never an error of the run."""
    try:
        return fleet_result.read(raw)
    except fleet_result.Refused as error:
        return Stored("REFUSED", reason=f"the worker's result is refused: {error}")


def forget(client, tasks: list[str]) -> None:
    """The results and records of `tasks` (written) dropped from the broker (a result holds a student's folders: a
    class's results would otherwise stay in the broker's memory until they expire); each leaves `tasks` once dropped,
    so a broker that fails midway leaves the rest for the next call."""
    while tasks:
        task = tasks[-1]
        # a copy still held somewhere (a paused worker resumed, kombu's restore of a lost worker's message after the
        # visibility timeout) finds this mark: dropped unrun, or its result not written (`fleet_deliveries`); set
        # first, so that no copy finds the result gone and no mark (it would grade, or store a result never collected)
        client.set(fleet.done_key(task), 1, ex=fleet.RESULT_SECONDS)
        client.delete(fleet.result_key(task), fleet.sent_key(task), fleet.attempts_key(task), taken_key(task))
        tasks.pop()
