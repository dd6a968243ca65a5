"""First use: after `make run` writes the local .env, the README's commands work in a new shell.

Each test works on a copy of the project in a temporary folder (the repository's own .env, if
any, is never read or written) and runs real commands in a fresh environment: no DEBUG, no
SECRET_KEY, nothing the test suite sets.
"""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from pricehub.env import load_env_file, parse_env_file, write_local_env_file
from pricehub.tests.test_settings import ROOT

LEFT_OUT = shutil.ignore_patterns(
    ".venv", ".git", ".env", "storage", "db.sqlite3*", "staticfiles", "tmp", ".pytest_cache", "__pycache__",
    ".local-admin-password", "bench", "node_modules",
)
CHAT = (
    "12/09/2025, 10:02 - Ana Phones: iPhone 15 128GB Black 750 USD\n"
    "12/09/2025, 10:03 - Ana Phones: Galaxy S24 256GB 820 USD\n"
    "12/09/2025, 10:04 - Ana Phones: Pixel 8 Pro 640 USD\n"
)


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project (sources only) using this checkout's virtualenv."""
    copy = tmp_path / "pricehub"
    shutil.copytree(ROOT, copy, ignore=LEFT_OUT)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def shell(project: Path, command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``command`` in bash with a new login's environment: PATH and HOME only."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(project.parent), "LANG": "C.UTF-8"}
    return subprocess.run(["bash", "-c", command], cwd=cwd or project, env=env, capture_output=True, text=True,
                          timeout=300)


def write_price_list(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Prices"
    for row in [["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"],
                ["A3090", "iPhone 15 128GB Black", 750, 10, "New"],
                ["SM-S928B", "Galaxy S24 Ultra 256GB", 1045, 5, "New"]]:
        sheet.append(row)
    workbook.save(path)
    return path


def test_without_the_local_file_commands_fail_fast_with_the_reason(project):
    result = shell(project, ".venv/bin/python manage.py list_documents --limit 20")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "make run" in result.stderr


def test_make_run_writes_the_local_file_once_and_the_readme_commands_then_work(project):
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # The step of `make run` that writes .env (-o: the checkout's virtualenv counts as installed).
    first = shell(project, "make -o .venv/.installed .env")
    assert first.returncode == 0, first.stderr
    env_file = project / ".env"
    values = parse_env_file(env_file.read_text())
    assert values["DEBUG"] == "true" and len(values["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    again = shell(project, "make -o .venv/.installed .env")
    assert again.returncode == 0 and parse_env_file(env_file.read_text()) == values  # written once

    write_price_list(project / "list.xlsx")
    (project / "chat.txt").write_text(CHAT)
    inbox = project / "inbox"
    inbox.mkdir()
    write_price_list(inbox / "a.xlsx")
    (inbox / "b.csv").write_text("MODEL/SKU,DESCRIPTION,PRICE\nX1,Pixel 8,500\n")

    steps = [
        ".venv/bin/python manage.py migrate --noinput",
        ".venv/bin/python manage.py createcachetable",
        ".venv/bin/python manage.py ensure_local_admin",
        '.venv/bin/python manage.py ingest list.xlsx --vendor "Acme Mobile" --currency EUR',
        ".venv/bin/python manage.py ingest chat.txt --processor whatsapp_text --option day_first=true",
        ".venv/bin/python manage.py ingest inbox --vendor Acme --json",
        ".venv/bin/python manage.py list_documents --limit 20",
        ".venv/bin/python manage.py drf_create_token admin",
    ]
    outputs = []
    for step in steps:  # each in a new shell
        result = shell(project, step)
        assert result.returncode == 0, f"{step}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        outputs.append(result.stdout)
    assert "list.xlsx: succeeded" in outputs[3]
    assert [json.loads(line)["file"] for line in outputs[5].splitlines()] == ["inbox/a.xlsx", "inbox/b.csv"]
    assert "list.xlsx" in outputs[6] and "chat.txt" in outputs[6]
    assert "Generated token" in outputs[7]
    assert (project / "db.sqlite3").exists() and (project / "storage").is_dir()  # the project's own


def test_real_environment_wins_and_only_the_project_file_is_read(project, tmp_path):
    write_local_env_file(project / ".env")
    show = ".venv/bin/python manage.py shell --no-imports -c 'from django.conf import settings; print(settings.DEBUG)'"
    assert shell(project, show).stdout.split()[-1] == "True"
    result = shell(project, "DEBUG=false ALLOWED_HOSTS=example.com " + show)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"

    # Run from another folder: the project's file is read, the current folder's is not.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("DEBUG=maybe\n")
    result = shell(project, f"{project}/.venv/bin/python {project}/manage.py check", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    (project / ".env").unlink()
    result = shell(project, f"{project}/.venv/bin/python {project}/manage.py check", cwd=elsewhere)
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_env_file_reader(tmp_path):
    path = tmp_path / "local.env"
    path.write_text("# comment\n\nexport A=1\nB = 'two words'\nC=\"x#y\"\nD=plain # note\nE=\n")
    environ = {"A": "from-environment"}
    assert load_env_file(path, environ) == {"B": "two words", "C": "x#y", "D": "plain", "E": ""}
    assert environ["A"] == "from-environment"
    assert load_env_file(tmp_path / "missing.env", environ) == {}
    from django.core.exceptions import ImproperlyConfigured

    path.write_text("OK=1\nthis is not a setting\n")
    with pytest.raises(ImproperlyConfigured, match="line 2 is not KEY=VALUE"):
        load_env_file(path, {})


def test_local_env_file_is_git_ignored():
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert result.returncode == 0


def test_log_lines_are_printed_once(project):
    write_local_env_file(project / ".env")
    script = ("import logging; logging.getLogger('django.request').warning('once-django'); "
              "logging.getLogger('django-q').warning('once-q'); logging.getLogger('ingestion').warning('once-app')")
    result = shell(project, f".venv/bin/python manage.py shell --no-imports -c \"{script}\"")
    assert result.returncode == 0, result.stderr
    for marker in ("once-django", "once-q", "once-app"):
        assert result.stderr.count(marker) == 1, result.stderr
