"""The service as a Bento: built from the project, served from a fresh environment that holds only
the runtime lock (no payrisk installed, no access to the project folder)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from payrisk.serving.process import running_service
from tests.conftest import API_KEY, AUTH, VALID_INVOICE

pytestmark = pytest.mark.slow  # a fresh virtual environment, a build and a server

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("bentofile.yaml", "pyproject.toml", "requirements/runtime.lock")


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new virtual environment with requirements/runtime.lock only."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
         "-r", str(REPO / "requirements" / "runtime.lock")],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    check = subprocess.run([str(python), "-c", "import payrisk"], capture_output=True)
    assert check.returncode != 0, "the fresh environment must not have payrisk installed"
    return str(python)


def project_copy(root: Path, models: Path) -> Path:
    """The project's files as a user's checkout holds them after `make demo`."""
    project = root / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "src", project / "src", ignore=ignore)
    shutil.copytree(REPO / "pipelines", project / "pipelines", ignore=ignore)
    for name in PROJECT_FILES:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, project / name)
    shutil.copytree(models, project / "models")
    return project


def test_the_bento_is_self_contained_and_serves_from_a_fresh_environment(
    trained, snapshot_file, fresh_python, tmp_path
):
    project = project_copy(tmp_path, trained.workdir / "models")
    home = tmp_path / "bentoml"
    build = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--version", "test"],
        cwd=project, env={**os.environ, "BENTOML_HOME": str(home)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    bento = home / "bentos" / "payrisk" / "test" / "src"
    for packaged in (
        "payrisk/service.py",
        "payrisk/configs/train.yaml",
        "payrisk/web/templates/base.html",
        "payrisk/web/static/style.css",
        "pipelines/catalog.py",
        "models/snapshot/customer_history.npz",
    ):
        assert (bento / packaged).is_file(), packaged

    elsewhere = tmp_path / "elsewhere"  # not the project: nothing to find by accident
    elsewhere.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "BENTOML_HOME": str(home),
        "PAYRISK_API_KEYS": API_KEY,
        "GX_ANALYTICS_ENABLED": "False",
    }
    log = tmp_path / "bento.log"
    with running_service(
        "payrisk:test", env, log, 240, python=fresh_python, cwd=elsewhere,
        inherit_environment=False,
    ) as base:  # fmt: skip
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        status = httpx.post(f"{base}/v1/status", headers=AUTH, timeout=30).json()
        assert status["model_source"] == "local copy"
        assert status["model_version"] == trained.report["registry"]["version"]
        scored = httpx.post(
            f"{base}/v1/score", json={"invoices": [VALID_INVOICE]}, headers=AUTH, timeout=60
        )
        assert scored.status_code == 200, scored.text
        assert 0 <= scored.json()["invoices"][0]["late_probability"] <= 1
        assert httpx.get(f"{base}/ui/login", timeout=30).status_code == 200
    assert not (bento / "mlflow.db").exists()  # the Bento store is not written to
