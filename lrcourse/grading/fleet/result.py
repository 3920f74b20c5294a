"""A task's stored result as the enqueuing command reads it from the broker (`fleet_grade`): read as raw bytes, decoded
as plain JSON and checked field by field here, never through Celery's result backend, whose decoding of a stored
result that is not JSON (kombu's DecodeError) or of a forged exception (`{"exc_module": "os", ...}`: Celery's
SecurityError) raises out of the whole run. Anyone with the broker's password can write a result, so every result
is hostile: a failure to read, decode or accept one fails that student with the reason (`Refused`), never the run.

A result is Celery's meta, `{"status": ..., "result": ...}`: SUCCESS with the worker's document (`fleet_worker`), or
FAILURE/REVOKED with Celery's JSON form of an exception (`{"exc_type", "exc_message", "exc_module"}`, only read as
text: no class is looked up). The document's shape is strict: only its known keys, each of its type; every number
finite and within BOUND (a JSON integer 10**400 overflows a float); lists of strings; parcels of file names to text;
and a graded student's result carries the autograded notebooks, and, when it says it has feedback, the feedback page.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from lrcourse.grading.intake import MAX_ENTRIES
from lrcourse.grading.outcomes import Outcome

BOUND = 1e9  # any score, time or points a worker can honestly report is far below
MAX_TEXT = 2000  # a reason's characters kept
MAX_NAMES = 10_000  # items of a list of test cells
FINAL = ("SUCCESS", "FAILURE", "REVOKED")  # Celery's states a stored result can be in (no task tracks STARTED)
DOCUMENT = {"outcome": dict, "autograded": dict, "feedback": dict, "scores": dict, "refused": bool}
OUTCOME = {  # `outcomes.Outcome`'s fields as a worker sends them (`dataclasses.asdict`)
    "student": str,
    "status": str,
    "reason": str,
    "score": "number or None",
    "max_score": "number or None",
    "seconds": "number",
    "overridden": "list of str",
    "feedback": bool,
    "unchecked": "list of str",
    "earlier_kept": bool,  # sent, never taken: whether an earlier result stays is the enqueuer's to say (`outcome_of`)
}


class Refused(ValueError):
    """A stored result that cannot be read or accepted; its text says why, for the student's outcome."""


@dataclass
class Stored:
    """A checked result: the worker's document if the task succeeded, else why it failed (`reason`)."""

    status: str
    document: dict | None = None
    reason: str = ""
    limit: float | None = None  # Celery's hard time limit (s) that stopped the task (TimeLimitExceeded), else None
    done: float | None = None  # when a failure was made (Celery's date_done, as a Unix time), if said


def read(raw) -> Stored:
    """The stored result `raw` (bytes from the broker, or Celery's meta as a dict) decoded and checked."""
    meta = decode(raw) if isinstance(raw, (bytes, str)) else raw
    if not isinstance(meta, dict) or meta.get("status") not in FINAL:
        raise Refused("it is not a finished task's result")
    if meta["status"] != "SUCCESS":
        return Stored(meta["status"], reason=failure_reason(meta), limit=hard_limit(meta), done=date_done(meta))
    return Stored("SUCCESS", document=checked_document(meta.get("result")))


def decode(raw) -> object:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise Refused(f"it is not JSON ({type(error).__name__})") from None


def failure_reason(meta: dict) -> str:
    """Why a task failed on its worker, from Celery's JSON form of its exception (read as text only)."""
    error = meta.get("result")
    if not isinstance(error, dict) or not isinstance(error.get("exc_type"), str):
        return f"the grading worker failed: {meta['status']}"
    kind, message = error["exc_type"][:64], error.get("exc_message")
    args = message if isinstance(message, list) else [message]
    if (seconds := hard_limit(meta)) is not None:  # said otherwise of a result that waited for room (`fleet_lapsed`)
        return (
            f"the grading worker was held on this student past the queue's hard time limit ({seconds:.0f} s: the "
            "student's budget, the worker's grace and 120 s) and was stopped; not tried again"
        )
    text = ", ".join(str(arg) for arg in args[:4]) if args != [None] else ""
    return f"the grading worker failed: {kind}: {text[:300]}"


def hard_limit(meta: dict) -> float | None:
    """The seconds of Celery's hard time limit (`fleet_worker.make_app`) that stopped the task (NaN if not said), or
    None: not stopped by it."""
    error = meta.get("result")
    if not isinstance(error, dict) or error.get("exc_type") != "TimeLimitExceeded":
        return None
    message = error.get("exc_message")
    args = message if isinstance(message, list) else [message]
    return float(args[0]) if args and _number(args[0]) else math.nan


def date_done(meta: dict) -> float | None:
    """When the task's result was made (Celery's `date_done`, ISO 8601, UTC if no zone is said), as a Unix time; None
    if not said or not a date (read as text only: the broker's content is not trusted)."""
    from datetime import UTC, datetime

    text = meta.get("date_done")
    try:
        made = datetime.fromisoformat(text[:64]) if isinstance(text, str) else None
    except ValueError:
        return None
    return None if made is None else (made if made.tzinfo else made.replace(tzinfo=UTC)).timestamp()


def checked_document(document) -> dict:
    """The worker's document, its shape checked (see the module's text); the checked outcome under "outcome"."""
    if not isinstance(document, dict):
        raise Refused("its document is not a JSON object")
    for key, value in document.items():
        if key not in DOCUMENT:
            raise Refused(f"its document has an unknown field {str(key)[:64]!r}")
        if not isinstance(value, DOCUMENT[key]):
            raise Refused(f"its {key} is not a {DOCUMENT[key].__name__}")
    if "outcome" not in document:
        raise Refused("it has no outcome")
    outcome = checked_outcome(document["outcome"])
    files = {kind: checked_parcel(kind, document.get(kind, {})) for kind in ("autograded", "feedback")}
    scores = checked_scores(document.get("scores", {}))
    if outcome["status"] == "graded":
        if not any(name.endswith(".ipynb") for name in files["autograded"]):
            raise Refused("it says graded but carries no autograded notebook")
        if outcome.get("feedback", True) and not any(name.endswith(".html") for name in files["feedback"]):
            raise Refused("it says it has feedback but carries no feedback page")
    return {"outcome": outcome, **files, "scores": scores, "refused": document.get("refused", False)}


def checked_outcome(raw) -> dict:
    """The outcome's fields, each of its type (the student's id is not taken: it is the enqueuer's own)."""
    if not isinstance(raw, dict):
        raise Refused("its outcome is not a JSON object")
    for name, value in raw.items():
        if name not in OUTCOME:
            raise Refused(f"its outcome has an unknown field {str(name)[:64]!r}")
        kind = OUTCOME[name]
        if kind == "number" and not _number(value):
            raise Refused(f"its outcome's {name} is not a finite number within {BOUND:g}")
        if kind == "number or None" and value is not None and not _number(value):
            raise Refused(f"its outcome's {name} is not a finite number within {BOUND:g}")
        if kind == "list of str" and not _names(value):
            raise Refused(f"its outcome's {name} is not a list of at most {MAX_NAMES} short strings")
        if isinstance(kind, type) and not isinstance(value, kind):
            raise Refused(f"its outcome's {name} is not a {kind.__name__}")
    if raw.get("status") not in ("graded", "failed"):
        raise Refused("its outcome's status is neither graded nor failed")
    return dict(raw)


def checked_parcel(kind: str, files: dict) -> dict[str, str]:
    """A parcel's shape (names to text); `parcel.unpack` checks the names and contents as it writes them."""
    if len(files) > MAX_ENTRIES or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise Refused(f"its {kind} files are not a mapping of at most {MAX_ENTRIES} names to text")
    return files


def checked_scores(raw) -> dict[str, float]:
    """{test cell: score} from a result, every score a finite number within BOUND (None: no verdict, no points): a
    NaN or an infinity (JSON's NaN and Infinity decode to them) would pass any clamp (min(max(nan, 0), 2) is nan) into
    the gradebook."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Refused("its scores are not a mapping of test cells to numbers")
    scores = {}
    for name, score in raw.items():
        if score is None:
            continue  # no verdict: no points
        if not _number(score):
            raise Refused(f"the score of {str(name)[:64]!r} is not a finite number within {BOUND:g}: {str(score)[:32]}")
        scores[name] = float(score)
    return scores


def outcome_of(student: str, checked: dict) -> Outcome:
    """The student's Outcome from a checked outcome; the student's id is ours, never the document's."""
    ours = ("student", "status", "score", "max_score", "earlier_kept")
    fields = {name: value for name, value in checked.items() if name not in ours}
    status = checked["status"]
    fields["reason"] = fields.get("reason", "" if status == "graded" else "the worker returned no outcome")[:MAX_TEXT]
    if "seconds" in fields:
        fields["seconds"] = float(fields["seconds"])
    return Outcome(student, status, **fields)


def _number(value) -> bool:
    """A finite number within BOUND; a bool is not one. Compared as it is: float() of a huge integer overflows."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return -BOUND <= value <= BOUND  # False for a NaN too


def _names(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_NAMES
        and all(isinstance(item, str) and len(item) <= 200 for item in value)
    )
