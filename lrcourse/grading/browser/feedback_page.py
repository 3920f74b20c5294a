"""The feedback page's template: nbgrader's own (`feedback/index.html.j2`), with every item of its contents named
and its MathJax taken from `HTMLExporter.mathjax_url`.

nbgrader's page lists each item as "Test cell" or "Written response" with no name, and loads MathJax from a URL
nbconvert's macro fixes (a CDN: offline, maths shows as raw `$...$`). `templates/lrcourse_feedback.html.j2` extends
nbgrader's page and changes only those two things; what the page shows of the student's work is still made safe by
`sanitize` (the names and headings it adds are escaped; a heading is the student's own markdown, so its MathJax
macros are made inert by `markup.inert_maths`, a filter `use_feedback_template` registers, and MathJax never
typesets the list: a `\\href` there would be a live link). `use_feedback_template` sets it for nbgrader's feedback
only (`GenerateFeedback.HTMLExporter`): formgrader's pages keep their own template and `content_policy`. Under
`lrcourse check` (`c.Lrcourse.self_study_feedback`, which its scratch course sets) the written answers read "graded
by hand: compare with the rubric in solutions/" and the page's total is the autograded points', as the terminal
says; the instructor's feedback shows the hand grades. MathJax stays nbconvert's CDN unless a course sets
`HTMLExporter.mathjax_url` (`lrcourse check` points it at the MathJax installed with the course:
`lrcourse.self_check.local_mathjax_url`). Its exporter is `feedback_exporter`'s, which compiles the templates once
per grading worker rather than once per student.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = TEMPLATES / "lrcourse_feedback.html.j2"
# `lrcourse check`'s: nobody grades the written answers there, so they read "graded by hand" and stay out of the
# total, as the terminal shows them; an instructor's feedback (after grading by hand) keeps their grades.
SELF_STUDY_TEMPLATE = TEMPLATES / "lrcourse_self_study_feedback.html.j2"
INERT_MATHS = "lrcourse.grading.browser.markup.inert_maths"


def use_feedback_template(config, self_study: bool = False) -> None:
    """Make nbgrader's feedback (`nbgrader generate_feedback`, and the API's, as `lrcourse grade` runs it) use the
    course's template (`self_study`: `lrcourse check`'s). An absolute path: nbconvert adds its folder to the
    template search path, after nbgrader's feedback folder, whose `index.html.j2` the template extends."""
    config.GenerateFeedback.HTMLExporter.template_file = str(SELF_STUDY_TEMPLATE if self_study else TEMPLATE)
    # the template's own filter (a student's headings in its contents list), whatever filters the course sets
    config.HTMLExporter.filters = {**config.HTMLExporter.get("filters", {}), "inert_maths": INERT_MATHS}
    # nbconvert's HTMLExporter, configured as above, its compiled templates kept from one student to the next
    config.GenerateFeedback.exporter_class = "lrcourse.grading.browser.feedback_exporter.FeedbackExporter"
