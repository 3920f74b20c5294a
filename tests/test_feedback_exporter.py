"""The feedback page's exporter (`lrcourse.grading.browser.feedback_exporter`): nbgrader's GenerateFeedback uses it, its
second page compiles no template and reads byte for byte as nbconvert's own HTMLExporter's, and an edited template
or another environment compiles afresh."""

from unittest import mock

import nbformat
from jinja2 import DictLoader, Environment
from nbconvert import HTMLExporter
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from lrcourse.grading.browser.feedback_exporter import FeedbackExporter, ProcessBytecodeCache, compiled_templates
from lrcourse.grading.browser.feedback_page import use_feedback_template


def graded_notebook() -> nbformat.NotebookNode:
    test = nbformat.v4.new_code_cell("check()")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_one", "points": 2, "score": 1}
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Exercise $a^2$"), test])


def page(exporter_class, converter, notebook) -> str:
    resources = {"nbgrader": {"notebook": "nb", "score": 1, "max_score": 2, "late_penalty": 0}}
    return exporter_class(parent=converter, config=converter.config).from_notebook_node(notebook, resources)[0]


def test_a_second_page_compiles_nothing_and_reads_as_nbconverts_own():
    config = Config()
    use_feedback_template(config)
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    assert converter.exporter_class is FeedbackExporter
    notebook = graded_notebook()  # one notebook: its cells' ids are on the page
    plain = page(HTMLExporter, converter, notebook)  # the course's template, rendered by nbconvert's own exporter
    compiled_templates().clear()
    first = page(FeedbackExporter, converter, notebook)
    assert len(compiled_templates().codes) >= 5  # the page's template and those it extends and includes
    with mock.patch.object(Environment, "compile", side_effect=AssertionError("a template compiled again")):
        second = page(FeedbackExporter, converter, notebook)
    assert first == second == plain


def test_an_edited_template_or_another_environment_compiles_afresh():
    cache = ProcessBytecodeCache()

    def render(source: str, **filters) -> str:
        environment = Environment(loader=DictLoader({"page": source}), bytecode_cache=cache)
        environment.filters.update(filters)
        return environment.get_template("page").render(x=3)

    assert render("{{ x }} one") == "3 one"
    assert render("{{ x }} two") == "3 two"  # same name, new source
    assert render("{{ x }} two") == "3 two" and len(cache.codes) == 1  # the key's entry replaced, not added
    assert render("{{ x }} two", shout=str.upper) == "3 two" and len(cache.codes) == 2  # other filters, own entry
