"""Every CSV the course writes, written one way: quoted as CSV must be, and with no cell a spreadsheet runs.

Text in these files comes from students (a folder name, a file name, an error message, a display name in the
LMS roster). Written without quoting, a comma or a newline in it makes rows and columns of its own (a second
row for a student, with a score of the student's choosing); written as it is, a cell starting with `=`, `+`,
`-`, `@`, a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets
(`=HYPERLINK(...)`, `=WEBSERVICE(...)`). So every text cell is quoted (numbers stay bare), and such a text
cell gets a leading `'` (OWASP's advice), which spreadsheets show as text. A spreadsheet set to read `;` as
the list separator (Excel in many locales) splits a line at every `;` outside a quoted cell's opening
quote, so a cell may begin after a `;` (or a line break, or a tab) in the middle of student text: such a
formula start gets its `'` too (`Mal;=HYPERLINK(...)` is written `Mal;'=HYPERLINK(...)`). Numbers are
written as numbers: a score of -1 stays a number, and so does text that is exactly a number. Control characters
but tab and line feed (C0, DEL and C1: ESC and CSI start a terminal's escape sequences, a carriage return writes
over the line) are written visibly escaped, `\\x1b`: `cat reports/<chapter>.csv` in a terminal would run them (clear
the screen, print a forged row over a real one).
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

# Formula starts, with the full-width forms some spreadsheets also read as formulas
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A separator another reading of the file splits at, then a formula start (past spaces and quotes, which a
# reader may drop): where a cell of that reading would begin with a formula
_INNER_FORMULA = re.compile(r"([;\t\r\n])(?=[\s\"]*[=+\-@\uff1d\uff0b\uff0d\uff20])")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# C0 but tab and line feed, DEL, C1; and the invisible format characters that reorder or hide text (bidi marks,
# embeddings, overrides and isolates, zero-width spaces and joiners, line and paragraph separators, the BOM): a
# file name holding U+202E shows the rest of its cell reversed in a spreadsheet or a browser; and lone
# surrogates (a file name's undecodable bytes, `os.fsdecode`), which no UTF-8 file can hold
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def visible(text: str) -> str:
    """`text` with its control and invisible format characters (`_CONTROL`) written as escapes (`\\x1b`, `\\u202e`)."""
    return _CONTROL.sub(_escape, text)


def _escape(found: re.Match) -> str:
    code = ord(found[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_cell(value):
    """`value` as a spreadsheet should read it: None as empty, text's control characters but tab and line feed
    escaped (`\\x1b`), text that a spreadsheet would run prefixed with `'` (at its start, and after a `;`, tab or
    line break inside it), anything else (numbers, dates) unchanged."""
    if value is None:
        return ""
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        return value
    value = visible(value)
    value = _INNER_FORMULA.sub(r"\1'", value)
    # past the spaces and quotes a reader may drop, as the rule inside a cell reads it
    return "'" + value if value.lstrip(' \u00a0\u3000"').startswith(FORMULA_START) else value


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable]) -> Path:
    """Write `header` and `rows` to `path` as CSV, every cell through `safe_cell`, every text cell quoted
    (numbers bare). A file name's undecodable bytes (a student's folder name can hold any) are written
    escaped rather than stopping the write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8", errors="backslashreplace") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow([safe_cell(cell) for cell in header])
        writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return path


def read_rows(path: Path, encoding: str = "utf-8") -> Iterator[dict[str, str]]:
    """The rows of the CSV at `path` as dicts. A row `csv` cannot read (a field over its 131,072-character
    limit, as an older run's reason could be) is left out with a message naming the file and line, so one
    student's row never stops the class report or the export."""
    with open(path, newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle)
        while True:
            try:
                yield next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                print(f"{path}: line {reader.line_num} left out, it cannot be read: {error}", file=sys.stderr)
