"""The pins: one place (requirements-student.txt for the learner, requirements.txt for the rest), the same in
environment.yml, and what is installed."""

import re
from importlib import metadata

import pytest
import yaml

from support.paths import ROOT


def requirement_pins(files=("requirements-student.txt", "requirements.txt")) -> dict[str, str]:
    pins = {}
    for line in (line for name in files for line in (ROOT / name).read_text().splitlines()):
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r "):
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: '{line}' is not an exact pin (name==version)"
            pins[name.lower()] = version
    return pins


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    pins = {}
    for line in pip_section:
        if not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    return pins


def test_torch_is_pinned_exactly_to_the_cpu_wheel_on_disk():
    assert requirement_pins()["torch"] == "2.13.0"


def test_environment_yml_states_the_same_versions_as_requirements():
    assert conda_pins() == requirement_pins()


def test_environment_yml_uses_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


@pytest.mark.parametrize("name,version", sorted(requirement_pins().items()))
def test_installed_version_matches_pin(name, version):
    installed = metadata.version(name)
    assert re.sub(r"\+.*$", "", installed) == version, f"{name}: installed {installed}, pinned {version}"


def test_requirements_txt_includes_the_students_pins():
    assert "-r requirements-student.txt" in (ROOT / "requirements.txt").read_text().splitlines()


def test_the_students_pins_hold_no_developer_tool():
    assert not set(requirement_pins(["requirements-student.txt"])) & {
        "pytest",
        "pytest-xdist",
        "playwright",
        "psycopg2-binary",
    }


def test_pyproject_takes_its_dependencies_from_the_students_requirements():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dependencies = { file = ["requirements-student.txt"] }' in text
    assert not re.search(r"^dependencies\s*=\s*\[", text, re.M), "pins must live only in requirements.txt"


def test_ci_runs_exactly_the_readme_test_command():
    run = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert run == ["make test"]
    assert "make test" in (ROOT / "README.md").read_text()
