"""Names from the exchange as the tools print them: one shell word each, which run as written names the same bytes,
and which prints on one line whatever a student put in the name (r20j W4: a name's control characters reached the
instructor's terminal; r20ad N3: collect printed a name's undecodable bytes in Python's surrogate form, `\\udcff`,
which no shell can paste back). Trust: the names are anyone's who could write in the folder; the text is the
student's, the quoting ours."""

from __future__ import annotations

import os
import shlex
from pathlib import Path


def shell_word(text: Path | str) -> str:
    """`text` as one shell word that prints on one line: shlex's quoting, or bash's $'...' with what cannot be printed
    written as \\xHH (r20j W4); run as written, it names the same bytes."""
    text = str(text)
    if text.isprintable():
        return shlex.quote(text)
    said = []
    for byte in os.fsencode(text):
        char = chr(byte)
        said.append("\\" + char if char in "\\'" else char if 0x20 <= byte < 0x7F else f"\\x{byte:02x}")
    return "$'" + "".join(said) + "'"


def quoted(text: Path | str) -> str:
    """`text` as `shell_word` says it, in quotes even where the shell needs none: a name set apart in a sentence."""
    word = shell_word(text)
    return word if word.startswith(("'", "$'")) else f"'{word}'"
