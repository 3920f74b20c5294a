"""The part of jupyterhub_config.py the course needs (JupyterHub 4.1 or later): the formgrader as a hub service run
by the grader account, and the groups that decide who reaches it. After nbgrader's documented set-up for one
course with a shared grader account; loaded unchanged into a JupyterHub 6.1.1 hub and tried there once by hand
(README, "Tried on a hub"). Your hub's own file loads it (`load_subconfig`) and adds its authenticator, spawner,
TLS and domain; set INSTRUCTORS to your instructors' hub names.
"""

c = get_config()  # noqa: F821 (provided by JupyterHub)

COURSE = "lr-schedules"
GRADER = f"grader-{COURSE}"  # a system account owning the course folder: /home/grader-lr-schedules/course
INSTRUCTORS = ["instructor1"]

c.JupyterHub.load_groups = {
    # Instructors and TAs: the formgrader. Students are never in this group.
    f"formgrade-{COURSE}": [*INSTRUCTORS, GRADER],
    # Students: nbgrader lists the course for them. Fill it from the roster (README: "The roster").
    f"nbgrader-{COURSE}": [],
}
c.JupyterHub.load_roles = [
    {"name": f"formgrade-{COURSE}", "groups": [f"formgrade-{COURSE}"], "scopes": [f"access:services!service={COURSE}"]}
]
c.JupyterHub.services = [
    {
        "name": COURSE,
        "url": "http://127.0.0.1:9999",
        # The instructor's JupyterLab on the course folder, nbgrader's instructor tools on (the system
        # environment of the grader account has them; the students' environment does not).
        # from the course's own environment, where scripts/setup_lab.py switched on lrcourse's page policy and
        # route guards (README: install the hub's JupyterHub version into it)
        "command": [
            f"/home/{GRADER}/course/.venv/bin/jupyterhub-singleuser",
            f"--ServerApp.root_dir=/home/{GRADER}/course",
        ],
        "user": GRADER,
        "cwd": f"/home/{GRADER}/course",
        "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab"},
        "oauth_no_confirm": True,
    }
]

# Students' servers on origins of their own, apart from the instructor's service: on one origin, a page a student's
# server serves can reach the service with the instructor's cookie (README, "A whole class on JupyterHub").
# Needs wildcard DNS and TLS for it (the Node.js configurable-http-proxy serves the hub's TLS; README); set your
# hub's domain:
c.JupyterHub.subdomain_host = "https://hub.example.edu"
c.JupyterHub.cookie_host_prefix_enabled = True  # JupyterHub 4.1 and later
