"""Each catalogue answer is graded as a student named after it (`student_name`): a name past nbgrader's and the
grader's rule for student ids (64 characters at most) is refused at intake, so its entry could never be judged (two
entries of R23f's fixes were, and failed to grade in the chapter's fidelity class)."""

from __future__ import annotations

from lrcourse.grading.intake import STUDENT_ID_RULE, valid_student_id

from support.gradedclass import ANSWERS, student_name


def test_every_catalogue_answer_is_graded_under_a_valid_student_id():
    invalid = [student_name(answer) for answer in ANSWERS if not valid_student_id(student_name(answer))]
    assert invalid == [], f"not a student id ({STUDENT_ID_RULE}): {invalid}"


def test_the_names_of_the_catalogue_s_students_are_distinct():
    names = [student_name(answer) for answer in ANSWERS]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})
