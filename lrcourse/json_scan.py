"""JSON's nesting and number of values, measured on the raw bytes without parsing.

Python's JSON parser and everything after it recurse: text nested thousands deep raises RecursionError in
whatever reads it, and every value is an object to build. The grader measures what a student wrote before it
parses it: a submitted notebook (`lrcourse.notebook_limits`) and each message a student's kernel sends
(`lrcourse.grading.sandbox.kernel_client`).
"""

from __future__ import annotations

CHUNK = 1 << 22  # bytes scanned at once: the scan's memory stays a few tens of MB whatever the text's size


def nesting_exceeds(data: bytes, limit: int) -> bool | None:
    """Whether the JSON text `data` nests deeper than `limit` (True), not (False), or cannot be balanced
    JSON (None), without parsing it."""
    return scan_json(data, limit)[0]


def scan_json(data: bytes, limit: int) -> tuple[bool | None, int]:
    """`nesting_exceeds` of `data`, and the number of `,` `:` `[` `{` outside strings, without parsing it: an
    upper bound on the objects a parser makes, less one (a container holds at most one element more than its
    commas, every member's key is a string, and an opener needs no separator: `[[[]]]` is three values with
    none), in numpy, linear in the size (a 50 MB file in well under a second). Past the depth limit the count
    stops there."""
    import numpy as np

    counted = np.zeros(256, dtype=bool)
    counted[list(b",:[{")] = True

    step = np.zeros(256, dtype=np.int8)  # a bracket's step in depth; every other byte 0
    step[list(b"[{")], step[list(b"]}")] = 1, -1
    # Inside strings, backslashes pair off from the left (outside, valid JSON has none): without the pairs and
    # the escaped quotes, every quote left opens or closes a string.
    text = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    quotes, depth, values = 0, 0, 0
    for start in range(0, len(text), CHUNK):
        chunk = text[start : start + CHUNK]
        quoted = np.cumsum(chunk == ord('"'), dtype=np.int32) + quotes
        quotes = int(quoted[-1])
        inside = (quoted & 1).astype(bool)
        steps = step[chunk]
        steps[inside] = 0  # a bracket inside a string
        values += int(np.count_nonzero(counted[chunk] & ~inside))
        levels = np.cumsum(steps, dtype=np.int32) + depth
        if levels.max() > limit:
            return True, values
        if levels.min() < 0:
            return None, values
        depth = int(levels[-1])
    return (None if depth else False), values
