"""What a kernel's message must hold, in the shapes nbclient reads it, before nbclient reads it.

A message that unpacks (`kernel_client`) can still hold content of the wrong shape for its type. nbclient reads
fields of it unchecked and nbformat validates the output it makes of it, so a kernel that sent a status without
its `execution_state`, a reply without its `status`, a display whose `data` is not an object of text or has no
`metadata`, a result without its count, or a `transient` that is not an object or whose `display_id` is a list
(F16's residual, each tried against `lrcourse grade`) raised KeyError, AttributeError, TypeError or jsonschema's
ValidationError inside nbclient: "There was an error processing assignment", no feedback, and nbclient's
"Task exception was never retrieved" traceback in the instructor's terminal. `fault` names what is wrong instead;
the grader's channels refuse that message as they refuse one they cannot unpack: the kernel is stopped, the reason
is the student's (`kernel_client.MeasuredChannel`).

Only what nbclient and nbformat's `output_from_msg` read is checked, in the shapes they read it (a display's data
and metadata as nbformat's schema, v4.5, has them): an honest ipykernel's message always has them. What
`output_caps.CappedExecute` makes safe before nbclient reads it is not checked twice: a stream whose text is not a
string or whose name is not stdout or stderr (dropped), an error's name, value and traceback (made strings), a
count that is not a count (none), comm messages (dropped unread); a clear_output's `wait` is read for its truth
only. Every message on the shell channel is taken by nbclient as the reply to its request when its parent says so
(the kernel's info at start, each cell's execute_reply), and nbgrader reads each one's `status`.
"""

from __future__ import annotations

import re

# nbformat's mimebundle: any value under a JSON type, a string or list of strings under every other
JSON_MIME = re.compile(r"^application/(.*\+)?json$")  # as nbformat's schema writes it (jsonschema searches it)


def fault(message: dict, reply: bool) -> str | None:
    """What is wrong with an unpacked message's content for its type (`reply`: it came on the shell channel), or
    None: "<what>: <why>", naming only the protocol's types (any other type is the kernel's text: not repeated).
    The message's parts are objects already (`kernel_client.well_formed`)."""
    kind, content = message["msg_type"], message["content"]
    if reply:
        return None if isinstance(content.get("status"), str) else "reply: its status is not a string"
    check = CHECKS.get(kind)
    wrong = transient_fault(content.get("transient")) or (check(content) if check else None)
    return None if wrong is None else f"{kind if kind in NAMED else 'iopub'} message: {wrong}"


def status_fault(content: dict) -> str | None:
    return None if isinstance(content.get("execution_state"), str) else "its execution_state is not a string"


def transient_fault(transient) -> str | None:
    """nbclient reads a display's id from any message's `transient`, if it has one, and keys a dict with it."""
    if transient and not isinstance(transient, dict):
        return "its transient is not an object"
    if transient and isinstance(transient.get("display_id"), (list, dict)):
        return "its display_id is a list or an object"
    return None


def display_fault(content: dict) -> str | None:
    """A display's (or result's) `data` and `metadata`, as nbformat's schema has them."""
    data = content.get("data")
    if not isinstance(data, dict):
        return "its data is not an object"
    for mime, value in data.items():
        if not (JSON_MIME.search(mime) or multiline_string(value)):
            return "its data holds a value that is not text"
    if not isinstance(content.get("metadata"), dict):
        return "its metadata is not an object"
    return None


def result_fault(content: dict) -> str | None:
    """A result is a display with a count (nbformat's output_from_msg reads it)."""
    return display_fault(content) or (None if "execution_count" in content else "it has no execution_count")


def multiline_string(value) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(line, str) for line in value))


CHECKS = {
    "status": status_fault,
    "display_data": display_fault,
    "update_display_data": display_fault,
    "execute_result": result_fault,
}
# the iopub types a reason may name (any other type is the kernel's text)
NAMED = frozenset({*CHECKS, "stream", "error", "execute_input", "clear_output", "comm_open", "comm_msg", "comm_close"})
