"""nbgrader configuration: the repository root is the course directory."""

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "lr-schedules"
c.CourseDirectory.source_directory = "source"
# Student notebooks are committed so a self-study learner can open them after cloning.
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# The student notebooks ship without the instructor's solutions and hidden tests.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# A student's infinite loop costs one cell, not the whole grading run.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
# Grading must not depend on which kernels the grader has: always the course's python3.
c.Execute.kernel_name = "python3"
# Once its last cell has run, a graded kernel has nothing left to do: stop it at once rather than wait
# for a clean exit (with torch loaded that wait is over half a second per notebook).
c.Execute.shutdown_kernel = "immediate"
