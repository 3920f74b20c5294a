"""What a spreadsheet would run in a CSV the course wrote, however it splits the file's lines."""

from __future__ import annotations

import csv
import io

from lrcourse.grading.spreadsheet import safe_cell

FORMULAS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # what a cell runs from, past white space


def formula_cells(path) -> list[str]:
    """The cells of the CSV at `path` that a spreadsheet would run, read with `,` and with `;` as the list
    separator (Excel in many locales): past white space and quotes, a formula start that is not a number."""
    text = path.read_text(encoding="utf-8")
    cells = [
        cell
        for delimiter in ",;"
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for cell in row
    ]
    starts = [cell.lstrip(' "\t\r\n') for cell in cells]
    return [cell for cell in starts if cell.startswith(FORMULAS) and safe_cell(cell) != cell]
