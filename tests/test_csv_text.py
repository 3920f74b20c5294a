"""Student text in the CSVs and the class report (`spreadsheet`): lone surrogates and formulas behind leading
spaces. tests/test_untrusted_inputs.py has the other rules."""

from __future__ import annotations

from lrcourse.grading.outcomes import Outcome, RunOutcomes, write_outcomes
from lrcourse.grading.spreadsheet import read_rows, safe_cell


def test_lone_surrogates_are_escaped_in_every_csv_and_the_class_report(tmp_path):
    """A file name's undecodable bytes (`os.fsdecode`) are lone surrogates, which no UTF-8 file can hold: an error
    message holding one once left reports/<chapter>.html empty and stopped the exports (F5)."""
    from lrcourse.grading.reports.class_report import esc

    path = write_outcomes(tmp_path, RunOutcomes("ch", [Outcome("zed", "failed", "x\udcff\ud800.py is Python code")]))
    (row,) = read_rows(path)
    assert row["reason"] == "x\\udcff\\ud800.py is Python code", row
    assert esc("<\udcff>") == "&lt;\\udcff&gt;"


def test_a_formula_after_leading_spaces_or_a_quote_is_text_as_it_is_after_a_semicolon():
    """F6: the rule inside a cell read past spaces and quotes a reader may drop; the rule at its start did not."""
    for value in [" =1+1", '"=HYPERLINK(1)', "\u00a0@SUM(1)", "\u3000+1", '  "-2+3']:
        assert safe_cell(value) == "'" + value, value
    assert safe_cell(" plain text") == " plain text" and safe_cell("-1") == "-1"
