"""A hub's system-wide nbgrader configuration: /etc/jupyter/nbgrader_config.py, read by every user's server.

Students see the course's assignments in the Assignments tab and fetch and submit them through the exchange;
the instructors' course folder (this repository's checkout, owned by the grader account) adds its own
nbgrader_config.py on top (source, release and gradebook folders, the sandbox limits).
"""

c = get_config()  # noqa: F821 (provided by nbgrader)

# The course's id: the same in the course folder's nbgrader_config.py and in the hub's groups
# (formgrade-lr-schedules, nbgrader-lr-schedules: hub/jupyterhub_config.py).
c.CourseDirectory.course_id = "lr-schedules"

# The exchange: a folder every user can write to (nbgrader keeps each student's submissions apart inside it):
#   sudo mkdir -p /srv/nbgrader/exchange && sudo chmod 1777 /srv/nbgrader/exchange
# with the sticky bit (as /tmp): only the instructor can move or delete the course's folder in it, so no
# student can put their own in its place (lrcourse collect refuses the exchange if one did).
# Every user's server must see the same folder (the hub's host, or a shared volume mounted in every pod).
c.Exchange.root = "/srv/nbgrader/exchange"
# Several courses on one exchange: keep each under its own id.
c.Exchange.path_includes_course = True
# Each submission's folder in the inbound folder writable by its student alone (nbgrader's own submit makes it 0777:
# a classmate who learned its name could rename it or its notebook). `nbgrader submit` and the Assignments tab both
# submit through this class (lrcourse/exchange_submit.py); the students' environment has lrcourse. With it, make the
# inbound folder 3733 (the sticky bit: README, "A whole class on JupyterHub", step 2).
c.ExchangeFactory.submit = "lrcourse.exchange_submit.OwnerOnlySubmit"
