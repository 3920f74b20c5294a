"""The Kubernetes example of a grading fleet (examples/kubernetes/, README "Grading on many machines"): its
manifests parse, the workers run `lrcourse worker` with options the command has, and the broker's password reaches
both sides from the Secret as files, never on a command line or in an environment variable. No cluster here: this
checks the manifests against the command, not that a cluster runs them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from lrcourse.cli import parser
from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.parcel import MAX_RESULT_MB
from lrcourse.grading.intake import MAX_SUBMISSION_MB

from support.paths import ROOT

EXAMPLE = ROOT / "examples" / "kubernetes"


def documents() -> dict[tuple[str, str], dict]:
    """{(kind, name): manifest} of every document in the example's files."""
    found = {}
    for path in sorted(EXAMPLE.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def mounted(deployment: dict, container: dict, path: str) -> tuple[str, str]:
    """(Secret, key) of the file at `path` in `container`, from its volume mounts and the pod's volumes."""
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    for mount in container["volumeMounts"]:
        folder = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(folder):
            secret = volumes[mount["name"]]["secret"]
            [item] = [item for item in secret["items"] if item["path"] == path[len(folder) :]]
            return secret["secretName"], item["key"]
    raise AssertionError(f"nothing is mounted at {path}")


def test_the_workers_run_lrcourse_worker_with_options_it_has():
    found = documents()
    worker = found[("Deployment", "lrcourse-worker")]
    [container] = containers(worker)
    command = container["command"] + container.get("args", [])
    assert Path(command[0]).name == "lrcourse" and command[1] == "worker", command
    args = parser().parse_args(command[1:])  # an unknown option or a bad value exits here
    assert args.run.__name__ == "command_worker"
    assert args.broker_file and args.concurrency >= 1 and Path(args.course) == Path(container["workingDir"])
    assert not args.no_sandbox  # the workers run students' code: sandboxed
    assert container["securityContext"]["seccompProfile"]["type"] == "Unconfined"  # bubblewrap's calls (README)
    assert mounted(worker, container, args.broker_file) == ("lrcourse-broker", "broker-url")
    assert worker["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_broker_reads_its_password_from_the_secret_and_the_workers_url_names_its_service():
    found = documents()
    secret = found[("Secret", "lrcourse-broker")]["stringData"]
    broker = found[("Deployment", "lrcourse-broker")]
    [redis] = containers(broker)
    [config_file] = [word for word in redis["command"] if word.endswith(".conf")]
    assert mounted(broker, redis, config_file) == ("lrcourse-broker", "redis.conf")
    config = dict(line.split(" ", 1) for line in secret["redis.conf"].splitlines() if line.strip())
    url = urlsplit(secret["broker-url"])
    assert url.password == config["requirepass"] and config["maxmemory-policy"] == "noeviction"
    service = found[("Service", "lrcourse-broker")]
    assert service["spec"]["type"] == "ClusterIP" and url.hostname == service["metadata"]["name"]
    assert url.port == int(config["port"]) == service["spec"]["ports"][0]["port"]
    assert service["spec"]["selector"] == broker["spec"]["template"]["metadata"]["labels"]


def test_no_password_on_a_command_line_or_in_the_environment():
    for (kind, name), document in documents().items():
        if kind != "Deployment":
            continue
        for container in containers(document):
            words = shlex.join(container["command"] + container.get("args", []))
            assert "redis://" not in words and "requirepass" not in words and "CHANGE-ME" not in words, name
            assert not container.get("env") and not container.get("envFrom"), name


def test_the_readme_points_to_the_example():
    assert "examples/kubernetes/" in (ROOT / "README.md").read_text()


def test_only_the_workers_and_the_enqueuer_may_reach_the_broker():
    """A ClusterIP Service alone is open to every pod of the cluster, students' servers included."""
    found = documents()
    policy = found[("NetworkPolicy", "lrcourse-broker")]["spec"]
    broker, worker = found[("Deployment", "lrcourse-broker")], found[("Deployment", "lrcourse-worker")]
    assert policy["podSelector"]["matchLabels"] == broker["spec"]["template"]["metadata"]["labels"]
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    allowed = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
    assert allowed == [worker["spec"]["template"]["metadata"]["labels"], {"lrcourse-enqueuer": "true"}], allowed
    port = found[("Service", "lrcourse-broker")]["spec"]["ports"][0]["port"]
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_each_pod_runs_as_a_user_that_can_read_its_secret_files():
    """The Secret's files are mounted 0400 and root's: a pod reads them as root, or through an fsGroup (which adds
    group read); the workers without one, since `lrcourse worker` warns about a URL file others can read."""
    for name in ("lrcourse-worker", "lrcourse-broker"):
        pod = documents()[("Deployment", name)]["spec"]["template"]["spec"]
        context = pod["securityContext"]
        [volume] = [volume for volume in pod["volumes"] if "secret" in volume]
        assert volume["secret"]["defaultMode"] == 0o400, name
        assert context["runAsUser"] == 0 or context["fsGroup"] == context["runAsGroup"], (name, context)
        if name == "lrcourse-worker":
            assert context["runAsUser"] == 0 and "fsGroup" not in context and pod["hostUsers"] is False


def test_the_broker_s_maxmemory_holds_a_window_at_intake_s_worst_within_its_pod_s_limit():
    """README "Broker memory": a parcel is 16/9 of its folder (base64 in the task's body, which kombu's Redis transport
    encodes in base64 again: a 3 MB folder made 5,594,415 bytes); a default window of parcels at intake's cap, 64 x
    178 MB, and their results, each at most `parcel.MAX_RESULT_MB` (64 MiB), is 15.1 GiB (R25o M2: counted with results
    of 1.2 MB, 11.5 GB, though one submission within every cap made 33 MB). The manifest's `maxmemory 8gb` was below
    even the 4/3 the README counted (8.5 GB); the pod's memory limit must stay above maxmemory (Redis's own
    overhead)."""
    found = documents()
    config = dict(
        line.split(" ", 1)
        for line in found[("Secret", "lrcourse-broker")]["stringData"]["redis.conf"].splitlines()
        if line.strip()
    )
    units = {"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}  # redis.conf's "gb" is GiB
    maxmemory = int(config["maxmemory"][:-2]) * units[config["maxmemory"][-2:].lower()]
    worst = fleet.WINDOW * ((MAX_SUBMISSION_MB << 20) * 16 // 9 + (MAX_RESULT_MB << 20))
    assert maxmemory >= worst, (maxmemory, worst)
    [redis] = containers(found[("Deployment", "lrcourse-broker")])
    limit = redis["resources"]["limits"]["memory"]
    assert limit.endswith("Gi") and int(limit[:-2]) << 30 > maxmemory, limit


def test_the_readme_gives_the_hard_limit_test_s_own_limit():
    """README's fault list cites tests/test_fleet_limits.py with its limit: it said 90 s, a value the test left for 45 s
    (R25q N2); read from the test's own LIMIT."""
    limit = re.search(r"^LIMIT = (\d+)", (ROOT / "tests" / "test_fleet_limits.py").read_text(), re.MULTILINE)[1]
    said = re.findall(
        r"tests/test_fleet_limits\.py: a limit of (\d+) s", " ".join((ROOT / "README.md").read_text().split())
    )
    assert said == [limit], (said, limit)
