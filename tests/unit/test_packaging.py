"""Packaging and release: the wheel, its metadata, the pipeline, the examples."""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from kronos import __version__

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

#: Where examples/databricks_job.json expects the files of examples/ to be
#: copied in the workspace, as workspace paths and as local paths.
WORKSPACE_FOLDERS = ("/Shared/kronos/", "/Workspace/Shared/kronos/")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------
# The wheel
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the sources, away from the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "kronos",
        source / "kronos",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    [built] = dist.glob("kronos-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def metadata(wheel) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_the_wheel_is_named_after_the_single_source_version(wheel):
    assert wheel.name.startswith(f"kronos-{__version__}-py3-none-any")


def test_the_wheel_holds_every_module_of_every_subpackage(wheel_names):
    sources = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "kronos").rglob("*.py")
        if "__pycache__" not in path.parts
    }

    assert sources - wheel_names == set()
    assert {"kronos/models/__init__.py", "kronos/models/naive.py"} <= wheel_names
    assert "kronos/__main__.py" in wheel_names


def test_the_wheel_holds_nothing_but_the_package(wheel_names):
    tops = {name.split("/")[0] for name in wheel_names}

    assert tops == {"kronos", f"kronos-{__version__}.dist-info"}


def test_the_wheel_installs_the_kronos_command(wheel):
    with zipfile.ZipFile(wheel) as archive:
        [name] = [
            n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")
        ]
        text = archive.read(name).decode()

    assert re.search(r"^kronos = kronos\.cli:console_main$", text, re.MULTILINE)
    from kronos import cli

    assert callable(cli.console_main)


def test_the_metadata_states_python_and_the_requirements(metadata):
    requirements = metadata.get_all("Requires-Dist")
    plain = {
        normalize(re.split(r"[<>=!~; \[]", r)[0]) for r in requirements if ";" not in r
    }

    assert metadata["Version"] == __version__
    assert metadata["Requires-Python"] == ">=3.11"
    assert {"mlflow", "pandas", "pillow", "pyyaml"} <= plain
    # Databricks brings its own pyspark: it is only an extra.
    assert "pyspark" not in plain
    assert {"spark", "delta", "dev"} <= set(metadata.get_all("Provides-Extra"))


def test_twine_check_passes(wheel):
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout


def test_the_version_is_written_in_one_place_only():
    setup_py = (REPO / "setup.py").read_text(encoding="utf-8")

    assert "version=read_version()" in setup_py
    assert not re.search(r"version\s*=\s*[\"']\d", setup_py)
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_requirements_pin_every_package_of_the_tested_set(metadata):
    pinned = {}
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.\-+]+", line), line
        name, version = line.split("==")
        pinned[normalize(name)] = version

    needed = {
        normalize(re.split(r"[<>=!~; \[]", requirement)[0])
        for requirement in metadata.get_all("Requires-Dist")
    }
    assert needed - set(pinned) == set()


# --------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return yaml.safe_load((REPO / "azure-pipelines.yaml").read_text(encoding="utf-8"))


def steps_of(pipeline: dict, stage_name: str) -> list[dict]:
    [stage] = [s for s in pipeline["stages"] if s["stage"] == stage_name]
    return [step for job in stage["jobs"] for step in job["steps"]]


def test_every_push_and_pull_request_is_built(pipeline):
    assert pipeline["trigger"]["branches"]["include"] == ["*"]
    assert pipeline["pr"]["branches"]["include"] == ["*"]


def test_release_tags_trigger_the_pipeline(pipeline):
    assert pipeline["trigger"]["tags"]["include"] == ["release", "release_*"]


def test_every_build_lints_and_tests(pipeline):
    scripts = [step.get("script", "") for step in steps_of(pipeline, "test")]

    assert any(s.startswith("scripts/test.sh") for s in scripts)
    test_sh = (REPO / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "ruff format --check" in test_sh
    assert "ruff check" in test_sh
    assert "pytest" in test_sh


def test_the_scripts_the_pipeline_runs_exist(pipeline):
    for stage in ("test", "release"):
        for step in steps_of(pipeline, stage):
            for path in re.findall(r"scripts/[\w.-]+", step.get("script", "")):
                assert (REPO / path).is_file(), path


def test_only_release_tags_publish(pipeline):
    [release] = [s for s in pipeline["stages"] if s["stage"] == "release"]
    condition = release["condition"]

    assert release["dependsOn"] == "test"
    assert "succeeded()" in condition
    assert "eq(variables['Build.SourceBranch'], 'refs/tags/release')" in condition
    assert (
        "startsWith(variables['Build.SourceBranch'], 'refs/tags/release_')" in condition
    )


def test_the_release_builds_checks_and_uploads_with_the_pipeline_login(pipeline):
    steps = steps_of(pipeline, "release")
    scripts = [step.get("script", "") for step in steps]
    tasks = [step.get("task") for step in steps]

    build = next(i for i, s in enumerate(scripts) if "-m build --wheel" in s)
    check = next(i for i, s in enumerate(scripts) if "twine check" in s)
    login = tasks.index("TwineAuthenticate@1")
    upload = next(i for i, s in enumerate(scripts) if "twine upload" in s)
    assert build < check < login < upload
    assert "$(PYPIRC_PATH)" in scripts[upload]
    assert steps[login]["inputs"]["artifactFeed"] == "$(artifactFeed)"


def test_the_pipeline_holds_no_credential():
    text = (REPO / "azure-pipelines.yaml").read_text(encoding="utf-8")

    assert not re.search(r"(password|token|pat)\s*[:=]", text, re.IGNORECASE)
    assert "https://" not in text


@pytest.mark.parametrize(
    ("tag", "passes"),
    [("release", True), (f"release_{__version__}", True), ("release_9.9.99", False)],
)
def test_a_release_tag_must_name_the_package_version(pipeline, tag, passes):
    [step] = [
        s
        for s in steps_of(pipeline, "release")
        if "Build.SourceBranchName" in s.get("script", "")
    ]
    script = step["script"].replace("$(Build.SourceBranchName)", tag)

    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        },
    )

    assert (done.returncode == 0) is passes, done.stdout + done.stderr


# --------------------------------------------------------------------------
# The examples
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def job_definition() -> dict:
    return json.loads((EXAMPLES / "databricks_job.json").read_text(encoding="utf-8"))


def strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def test_the_job_definition_is_a_scheduled_kronos_run(job_definition):
    [task] = job_definition["tasks"]
    wheel_task = task["python_wheel_task"]

    assert job_definition["schedule"]["quartz_cron_expression"]
    assert wheel_task["package_name"] == "kronos"
    assert wheel_task["entry_point"] == "kronos"
    assert wheel_task["parameters"][:2] == ["run", "--config"]
    assert task["job_cluster_key"] in {
        c["job_cluster_key"] for c in job_definition["job_clusters"]
    }


def test_the_job_installs_the_current_version(job_definition):
    [task] = job_definition["tasks"]

    assert {"pypi": {"package": f"kronos=={__version__}"}} in task["libraries"]


def test_every_file_the_job_definition_names_exists_in_examples(job_definition):
    referenced = []
    for text in strings_in(job_definition):
        for folder in WORKSPACE_FOLDERS:
            if text.startswith(folder):
                referenced.append(text[len(folder) :])
    cluster = job_definition["job_clusters"][0]["new_cluster"]

    assert {"job.toml", "init_script.sh"} <= set(referenced)
    for name in referenced:
        assert (EXAMPLES / name).is_file(), name
    assert cluster["init_scripts"] == [
        {"workspace": {"destination": "/Shared/kronos/init_script.sh"}}
    ]


def test_the_cluster_reads_the_token_from_a_secret(job_definition):
    env = job_definition["job_clusters"][0]["new_cluster"]["spark_env_vars"]

    assert re.fullmatch(r"\{\{secrets/[\w.-]+/[\w.-]+\}\}", env["PYPI_TOKEN"])


def test_the_example_job_file_names_files_that_exist():
    from kronos.jobconfig import load_job_config

    job = load_job_config(EXAMPLES / "job.toml")

    assert job.models_config


def test_the_notebook_example_is_valid_python():
    source = (EXAMPLES / "notebook_forecast.py").read_text(encoding="utf-8")

    compile(source, "notebook_forecast.py", "exec")
    assert source.startswith("# Databricks notebook source\n")


# --------------------------------------------------------------------------
# The init script never shows the token
# --------------------------------------------------------------------------

INIT_SCRIPT = EXAMPLES / "init_script.sh"
FAKE_TOKEN = "s3cr3t-t0ken-value"


def test_the_init_script_is_valid_bash_and_executable():
    subprocess.run(["bash", "-n", str(INIT_SCRIPT)], check=True)

    assert INIT_SCRIPT.stat().st_mode & stat.S_IXUSR


def test_the_init_script_has_no_tracing_and_no_echo_of_the_token():
    lines = [
        line.strip()
        for line in INIT_SCRIPT.read_text(encoding="utf-8").splitlines()
        if not line.strip().startswith("#")
    ]

    for line in lines:
        assert not re.match(r"set\s+(-\w*x|-o\s+xtrace)", line), line
        if re.match(r"(echo|printf)\b", line):
            assert "PYPI_TOKEN" not in line.replace("PYPI_TOKEN is not set", ""), line
    assert "-x" not in INIT_SCRIPT.read_text(encoding="utf-8").splitlines()[0]


def run_init_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(INIT_SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": os.environ["PATH"],
            "PIP_CONF_TARGET": str(tmp_path / "pip.conf"),
            **env,
        },
    )


def test_the_init_script_writes_the_feed_without_printing_the_token(tmp_path):
    done = run_init_script(
        tmp_path,
        PYPI_TOKEN=FAKE_TOKEN,
        PYPI_FEED_URL="https://pkgs.dev.azure.com/org/proj/_packaging/feed/pypi/simple/",
    )

    assert done.returncode == 0, done.stderr
    assert FAKE_TOKEN not in done.stdout + done.stderr
    conf = (tmp_path / "pip.conf").read_text(encoding="utf-8")
    assert conf.startswith("[global]\n")
    assert (
        f"\nindex-url = https://kronos:{FAKE_TOKEN}@pkgs.dev.azure.com/org/proj/"
        in conf
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "pip.conf"]


@pytest.mark.parametrize("missing", ["PYPI_TOKEN", "PYPI_FEED_URL"])
def test_the_init_script_stops_when_a_setting_is_missing(tmp_path, missing):
    env = {"PYPI_TOKEN": FAKE_TOKEN, "PYPI_FEED_URL": "pkgs.example.com/simple/"}
    del env[missing]

    done = run_init_script(tmp_path, **env)

    assert done.returncode == 1
    assert f"{missing} is not set" in done.stderr
    assert FAKE_TOKEN not in done.stdout + done.stderr
    assert not (tmp_path / "pip.conf").exists()
