"""The class report: one self-contained HTML page per chapter, `reports/<chapter>.html`.

It opens in any browser without a server or a network: styles inline, figures as base64 PNG images with
alt text (matplotlib, Agg). What an instructor reads in a minute: the score distribution, each graded
item's mean and share of full marks, the students to look at (could not be graded, in-kernel result
overridden by the trusted checker, below half marks) with the reasons, and the most frequent failure
messages per item. Tables carry stable ids and classes (`#distribution`, `#items`, `#attention`,
`#failures`), so tests and scripts read numbers off the page.
"""

from __future__ import annotations

import base64
import html
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lrcourse.grading.exchange.other_account import cannot_write, give_if_there
from lrcourse.grading.reports.results import (
    PENDING,
    AssignmentGrades,
    Item,
    failed_students,
    frequent_failures,
    graded_folder,
    not_read,
    overridden_cells,
    read_verdicts,
    short_message,
    student_failures,
)
from lrcourse.grading.spreadsheet import visible

PASS_SHARE = 0.5  # below this share of the total, a student is listed to look at
INTEGER_BINS_UP_TO = 20  # totals up to this many points get one bin per point; more get ten bins


@dataclass
class Bin:
    low: float
    high: float
    count: int
    last: bool = False  # the last bin includes its upper edge

    @property
    def label(self) -> str:
        if self.high - self.low == 1 and float(self.low).is_integer():
            return f"{self.low:g}"
        return f"{self.low:g}–{self.high:g}"


@dataclass
class ItemStats:
    item: Item
    graded: int
    pending: int
    mean: float | None
    full_share: float | None


@dataclass
class Attention:
    student: str
    kind: str  # "failed to grade", "no graded notebook", "in-kernel result overridden", "below half marks"
    reason: str


@dataclass
class ChapterReport:
    grades: AssignmentGrades
    bins: list[Bin]
    items: list[ItemStats]
    attention: list[Attention]
    failures: dict[str, list[tuple[str, int, list[str]]]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# The numbers
# --------------------------------------------------------------------------------------------
def distribution(totals: list[float], max_score: float) -> list[Bin]:
    """Counts of totals per bin: one bin per point ([k, k+1), the last one [max-1, max]) up to
    INTEGER_BINS_UP_TO points, else ten equal bins."""
    if max_score <= 0:
        return [Bin(0, 0, len(totals), True)]
    if max_score <= INTEGER_BINS_UP_TO and float(max_score).is_integer():
        edges = [float(k) for k in range(int(max_score) + 1)] + [max_score + 1]
    else:
        edges = [max_score * k / 10 for k in range(11)]
    bins = [Bin(low, high, 0, i == len(edges) - 2) for i, (low, high) in enumerate(zip(edges, edges[1:]))]
    for total in totals:
        index = next(i for i, b in enumerate(bins) if total < b.high or b.last)
        bins[index].count += 1
    return bins


def item_stats(grades: AssignmentGrades) -> list[ItemStats]:
    """Per item, over the students graded on it (pending ones apart): mean points and share with full marks."""
    stats = []
    for item in grades.items:
        values = [grades.scores[s].get(item.key) for s in grades.students]
        scored = [v for v in values if isinstance(v, (int, float))]
        pending = sum(v == PENDING for v in values)
        mean = sum(scored) / len(scored) if scored else None
        full = sum(v >= item.max_score for v in scored) / len(scored) if scored else None
        stats.append(ItemStats(item, len(scored), pending, mean, full))
    return stats


def attention_list(course: Path, grades: AssignmentGrades, failures: dict[str, dict[str, str]]) -> list[Attention]:
    failed = failed_students(course, grades.name)
    rows = [Attention(s, "failed to grade", reason) for s, reason in failed.items()]
    for student in grades.students:
        folder = graded_folder(course, student, grades.name)  # None: her id makes no path (R20v W1 d)
        if student not in failed and not (folder and any(folder.glob("*.ipynb"))):
            why = "nbgrader wrote no graded notebook: formgrader cannot show it, no feedback (its reason in the CSV)"
            rows.append(Attention(student, "no graded notebook", why))
        verdicts = read_verdicts(course, student, grades.name)
        cells = overridden_cells(verdicts)
        if cells:
            rows.append(Attention(student, "in-kernel result overridden", overridden_reason(verdicts, cells)))
        if grades.totals[student] < PASS_SHARE * grades.max_score:
            first = next(iter(failures.get(student, {}).items()), None)
            reason = f"{grades.totals[student]:g} / {grades.max_score:g}" + (
                f"; {first[0]}: {short_message(first[1])}" if first else ""
            )
            rows.append(Attention(student, "below half marks", reason))
    return sorted(rows, key=lambda row: (row.student, row.kind))


def overridden_reason(verdicts: dict, cells: list[str]) -> str:
    parts = []
    for name in cells:
        cell = (verdicts.get("cells") or {}).get(name, {})
        scores = (
            f"in kernel {cell.get('in_kernel_score', '?'):g}, trusted {cell.get('trusted_score', '?'):g}"
            if isinstance(cell.get("in_kernel_score"), (int, float))
            and isinstance(cell.get("trusted_score"), (int, float))
            else "scores not recorded"
        )
        text = cell.get("detail") or cell.get("message")
        message = f": {short_message(text)}" if text else ""
        parts.append(f"{name} ({scores}){message}")
    return "; ".join(parts)


def chapter_report(course: Path, grades: AssignmentGrades) -> ChapterReport:
    # a student the run could not grade is listed as such, not counted as graded (a crashed grading run can
    # leave the gradebook a submission at 0 with every item pending)
    failed = failed_students(course, grades.name)
    grades = AssignmentGrades(
        grades.name,
        grades.max_score,
        grades.items,
        {s: v for s, v in grades.scores.items() if s not in failed},
        {s: v for s, v in grades.totals.items() if s not in failed},
    )
    failures = {s: student_failures(course, s, grades.name) for s in grades.students}
    return ChapterReport(
        grades,
        distribution(list(grades.totals.values()), grades.max_score),
        item_stats(grades),
        attention_list(course, grades, failures),
        frequent_failures(failures),
    )


# --------------------------------------------------------------------------------------------
# The figures: PNG, base64, with alt text
# --------------------------------------------------------------------------------------------
def png_base64(figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def distribution_figure(bins: list[Bin], max_score: float) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.8), layout="constrained")
    axes = figure.add_subplot()
    axes.bar([b.label for b in bins], [b.count for b in bins], color="#4c72b0")
    axes.set_xlabel(f"total score (out of {max_score:g})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    return png_base64(figure)


def distribution_alt(bins: list[Bin], max_score: float) -> str:
    counted = [f"{b.label}: {b.count}" for b in bins if b.count]
    total = sum(b.count for b in bins)
    return (
        f"Bar chart of total scores out of {max_score:g} for {total} graded students; "
        f"students per score: {', '.join(counted) or 'none'}."
    )


def items_figure(stats: list[ItemStats]) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 0.45 * len(stats) + 0.9), layout="constrained")
    axes = figure.add_subplot()
    shares = [100 * (s.full_share or 0) for s in stats]
    names = [s.item.name for s in stats]
    colours = ["#c44e52" if share < 100 * PASS_SHARE else "#55a868" for share in shares]
    axes.barh(names[::-1], shares[::-1], color=colours[::-1])
    axes.set_xlim(0, 100)
    axes.set_xlabel("students with full marks (%)")
    axes.spines[["top", "right"]].set_visible(False)
    return png_base64(figure)


def items_alt(stats: list[ItemStats]) -> str:
    parts = [f"{s.item.name} {percent(s.full_share)}" for s in stats]
    return "Horizontal bar chart of the share of students with full marks per graded item: " + ", ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; } th, td { padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; } td.number, th.number { text-align: right; }
tr.weak td { color: #a02020; } .summary { font-size: 1.05rem; } .teach { background: #fff6d6; padding: 0.5rem 0.8rem; }
img { max-width: 100%; } .note { color: #666; font-size: 0.9rem; }
"""


def esc(value) -> str:
    """Text a student may have chosen, for the page: HTML escaped, control and bidi characters shown as escapes."""
    return html.escape(visible(str(value)))


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f}%"


def points(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(table_id: str, header: list[str], rows: list[str], numeric: set[int] = frozenset()) -> str:
    heads = "".join(
        f'<th{" class=number" if i in numeric else ""} scope="col">{esc(h)}</th>' for i, h in enumerate(header)
    )
    return f'<table id="{table_id}"><thead><tr>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def summary_html(report: ChapterReport) -> str:
    grades = report.grades
    totals = list(grades.totals.values())
    mean = sum(totals) / len(totals) if totals else None
    failed = sum(a.kind == "failed to grade" for a in report.attention)
    # autograded items only: an unanswered written question scores 0 for everyone until a grader reads it
    autograded = (s for s in report.items if s.full_share is not None and s.item.autograded)
    weakest = sorted(autograded, key=lambda s: s.full_share)[:1]
    teach = (
        (
            f'<p class="teach">Re-teach first: <strong>{esc(weakest[0].item.name)}</strong>, full marks for '
            f"{percent(weakest[0].full_share)} of the class.</p>"
        )
        if weakest and weakest[0].full_share < 1
        else ""
    )
    return (
        f'<p class="summary"><span id="graded-count">{len(totals)}</span> students graded, '
        f'<span id="failed-count">{failed}</span> could not be graded; mean total '
        f'<span id="mean-total">{points(mean)}</span> of <span id="max-total">{grades.max_score:g}</span>.</p>' + teach
    )


def distribution_html(report: ChapterReport) -> str:
    bins, max_score = report.bins, report.grades.max_score
    rows = [
        f'<tr data-low="{b.low:g}" data-high="{b.high:g}"><td class="range">{esc(b.label)}</td>'
        f'<td class="count number">{b.count}</td></tr>'
        for b in bins
    ]
    return (
        f'<section><h2>Score distribution</h2><img id="distribution-plot" alt="{esc(distribution_alt(bins, max_score))}" '
        f'src="data:image/png;base64,{distribution_figure(bins, max_score)}">'
        + table("distribution", ["total score", "students"], rows, {1})
        + '<p class="note">A bin "k" holds totals from k up to (not including) k + 1; the last bin includes the '
        "maximum.</p></section>"
    )


def items_html(report: ChapterReport) -> str:
    rows = []
    for s in report.items:
        weak = ' class="weak"' if s.full_share is not None and s.full_share < PASS_SHARE else ""
        rows.append(
            f'<tr{weak} data-item="{esc(s.item.name)}"><td class="item">{esc(s.item.name)}</td>'
            f'<td class="kind">{"manual" if s.item.cell_type == "markdown" else "autograded"}</td>'
            f'<td class="max number">{s.item.max_score:g}</td><td class="mean number">{points(s.mean)}</td>'
            f'<td class="full-share number">{percent(s.full_share)}</td>'
            f'<td class="graded number">{s.graded}</td><td class="pending number">{s.pending}</td></tr>'
        )
    return (
        f'<section><h2>Graded items</h2><img id="items-plot" alt="{esc(items_alt(report.items))}" '
        f'src="data:image/png;base64,{items_figure(report.items)}">'
        + table(
            "items", ["item", "graded by", "points", "mean", "full marks", "graded", "pending"], rows, {2, 3, 4, 5, 6}
        )
        + "</section>"
    )


def attention_html(report: ChapterReport) -> str:
    rows = [
        f'<tr data-student="{esc(a.student)}"><td class="student">{esc(a.student)}</td>'
        f'<td class="kind">{esc(a.kind)}</td><td class="reason">{esc(a.reason)}</td></tr>'
        for a in report.attention
    ]
    body = table("attention", ["student", "why", "reason"], rows) if rows else '<p id="attention">Nobody.</p>'
    return f"<section><h2>Students to look at</h2>{body}</section>"


def failures_html(report: ChapterReport) -> str:
    rows = []
    for stats in report.items:
        for message, count, students in report.failures.get(stats.item.name, []):
            rows.append(
                f'<tr data-item="{esc(stats.item.name)}"><td class="item">{esc(stats.item.name)}</td>'
                f'<td class="count number">{count}</td><td class="message"><code>{esc(message)}</code></td>'
                f'<td class="students">{esc(", ".join(students))}</td></tr>'
            )
    body = (
        table(
            "failures", ["item", "students", "message (an example of messages alike but for numbers)", "who"], rows, {1}
        )
        if rows
        else '<p id="failures">No failure messages.</p>'
    )
    return f"<section><h2>Most frequent failure messages</h2>{body}</section>"


def render(report: ChapterReport) -> str:
    name = esc(report.grades.name)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Class report: {name}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f"<body><h1>Class report: {name}</h1>"
        + summary_html(report)
        + distribution_html(report)
        + items_html(report)
        + attention_html(report)
        + failures_html(report)
        + '<p class="note">Written by <code>lrcourse</code> from the nbgrader gradebook.</p></body></html>'
    )


def write_chapter_report(course: Path, grades, path: Path | None = None) -> Path:
    """Write reports/<assignment>.html (or `path`) from grades already read; return its path."""
    path = path or course / "reports" / f"{grades.name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    for line in not_read(grades.students):
        print(line, file=sys.stderr)
    path.write_text(render(chapter_report(course, grades)), encoding="utf-8", errors="backslashreplace")
    if path.parent == course / "reports":  # root's report in another account's course: that owner's (R20p W2)
        give_if_there(path, course)
    return path


def report_failure(error: Exception, course: Path, then: str = "grade again") -> str:
    """How the class report's (or the export's) failure is said: the error, and where it is a file this account may
    not write (root's, left by root's grade; its own, read-only), the chown or chmod that mends it, then `then`
    (`cannot_write`, G21): not only that it failed."""
    if isinstance(error, PermissionError):
        return cannot_write(error, course, then=then)
    return f"{type(error).__name__}: {error}"
