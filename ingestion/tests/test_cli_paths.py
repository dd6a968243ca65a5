"""`manage.py ingest PATH` on paths that are not plain files: symbolic links, FIFOs, devices,
/proc files, empty, unreadable, folders. Every file, link and FIFO is made by the test; the
command runs in-process (``call_command``) and as a real subprocess."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from documents.models import SourceDocument
from ingestion import intake
from ingestion.tests.conftest import run_command, stored_files

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
CSV = "MODEL/SKU,DESCRIPTION,PRICE\nX1,Pixel 8,500\n"
SECRET_CSV = "MODEL/SKU,DESCRIPTION,PRICE\nS1,Secret phone,900\n"
NOBODY = 65534


def run(*args, timeout: int = 60):
    """``call_command(*args)``: ``(exit code, stdout, stderr)``. An alarm fails the test if the
    command has not returned after ``timeout`` seconds (as opening a FIFO for reading blocks);
    the command runs in this thread, on the test's database connection."""

    def timed_out(signum, frame):
        raise TimeoutError(f"ingest {args[1:]} still running after {timeout} s (blocked opening a FIFO?)")

    previous = signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(timeout)
    try:
        return run_command(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def release_fifo_readers(fifo: Path) -> None:
    """Give EOF to anyone blocked opening ``fifo`` for reading (so a failing test ends)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # no reader: nobody blocked


@pytest.fixture
def secret(tmp_path):
    """A file outside the folder being ingested, standing for /etc/passwd: read as a CSV, it
    would give an offer."""
    path = tmp_path / "private" / "passwd.csv"
    path.parent.mkdir()
    path.write_text(SECRET_CSV)
    return path


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    yield path
    release_fifo_readers(path)


def assert_nothing_stored(settings):
    assert SourceDocument.objects.count() == 0
    assert stored_files(settings) == []


# --------------------------------------------------------------------------- symbolic links


def test_a_link_is_refused_naming_what_it_points_to_and_nothing_is_stored(tmp_path, secret, empty_storage):
    link = tmp_path / "list.csv"
    link.symlink_to(secret)
    code, out, err = run("ingest", str(link), "--vendor", "Acme")
    assert code == 1 and out == ""
    assert err == (f"{link}: is a symbolic link to the file {secret}: links are not followed unless asked; pass "
                   f"--follow-symlinks to ingest what it points to, or name {secret} itself")
    assert_nothing_stored(empty_storage)


def test_follow_symlinks_ingests_what_the_link_points_to(tmp_path, secret, empty_storage):
    link = tmp_path / "list.csv"
    link.symlink_to(secret)
    code, out, err = run("ingest", str(link), "--vendor", "Acme", "--currency", "EUR", "--follow-symlinks")
    assert code == 0, err
    assert out.startswith(f"{link}: succeeded")
    document = SourceDocument.objects.get()
    assert document.original_filename == "passwd.csv"  # the file read is the link's target
    assert [p.read_text() for p in stored_files(empty_storage)] == [SECRET_CSV]


def test_a_link_to_a_link_and_a_dangling_link_say_what_they_point_to(tmp_path, secret, empty_storage):
    first = tmp_path / "first.csv"
    first.symlink_to(secret)
    second = tmp_path / "second.csv"
    second.symlink_to(first)
    code, _, err = run("ingest", str(second), "--vendor", "Acme")
    assert code == 1 and f"{second}: is a symbolic link to the file {secret}: " in err
    dangling = tmp_path / "gone.csv"
    dangling.symlink_to(tmp_path / "deleted.csv")
    code, _, err = run("ingest", str(dangling), "--vendor", "Acme", "--follow-symlinks")
    assert code == 1
    assert err == f"{dangling}: is a symbolic link to {tmp_path / 'deleted.csv'}, which does not exist: name the file itself"
    assert_nothing_stored(empty_storage)


def test_a_link_to_a_folder_is_refused_unless_followed(tmp_path, secret, empty_storage):
    link = tmp_path / "inbox"
    link.symlink_to(secret.parent, target_is_directory=True)
    code, _, err = run("ingest", str(link), "--vendor", "Acme")
    assert code == 1 and err.startswith(f"{link}: is a symbolic link to the folder {secret.parent}: ")
    assert_nothing_stored(empty_storage)
    code, out, err = run("ingest", str(link), "--vendor", "Acme", "--currency", "EUR", "--follow-symlinks")
    assert code == 0, err
    assert out.startswith(f"{link}/passwd.csv: succeeded")


# --------------------------------------------------------------------------- special files


def test_a_fifo_is_refused_without_being_opened(fifo, empty_storage):
    code, _, err = run("ingest", str(fifo), "--vendor", "Acme", "--follow-symlinks")
    assert code == 1
    assert err == (f"{fifo}: is a named pipe (FIFO), not a regular file: PriceHub reads only spreadsheets and chat "
                   "exports saved on disk")
    assert_nothing_stored(empty_storage)


def test_a_link_to_a_fifo_is_refused_even_when_links_are_followed(tmp_path, fifo, empty_storage):
    link = tmp_path / "list.csv"
    link.symlink_to(fifo)
    for extra in ([], ["--follow-symlinks"]):
        code, _, err = run("ingest", str(link), "--vendor", "Acme", *extra)
        assert code == 1
        assert err == (f"{link}: is a symbolic link to {fifo}, a named pipe (FIFO), not a regular file: PriceHub "
                       "reads only files saved on disk, with or without --follow-symlinks")
    assert_nothing_stored(empty_storage)


@pytest.mark.parametrize("target,kind", [
    ("/dev/null", "a character device"),
    ("/proc/self/environ", "a kernel file under /proc (made up when read)"),
])
def test_devices_and_proc_files_are_refused_directly_and_behind_a_link(tmp_path, empty_storage, target, kind):
    if not Path(target).exists():
        pytest.skip(f"{target} does not exist on this system")
    code, _, err = run("ingest", target, "--vendor", "Acme")
    assert code == 1 and err.startswith(f"{target}: is {kind}, not a regular file")
    link = tmp_path / "list.csv"
    link.symlink_to(target)
    code, _, err = run("ingest", str(link), "--vendor", "Acme", "--follow-symlinks")
    assert code == 1
    assert err.startswith(f"{link}: is a symbolic link to {os.path.realpath(target)}, {kind}, not a regular file")
    assert_nothing_stored(empty_storage)


def test_open_regular_refuses_a_fifo_and_a_link_on_the_open_file(tmp_path, fifo, secret):
    """The check ``services.ingest_path`` can use when it opens: race-free, never blocking."""
    with pytest.raises(intake.PathRefused, match=r"is a named pipe \(FIFO\)"):
        intake.open_regular(fifo)
    link = tmp_path / "list.csv"
    link.symlink_to(secret)
    with pytest.raises(intake.PathRefused, match="is a symbolic link to the file"):
        intake.open_regular(link)
    with intake.open_regular(link, follow_symlinks=True) as handle:
        assert handle.read() == SECRET_CSV.encode()


# --------------------------------------------------------------------------- in folders


@pytest.fixture
def inbox(tmp_path, secret, fifo):
    """A shared inbox: one list, and what someone else put there: a link out of it, a FIFO, a
    link to a device."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.csv").write_text(CSV)
    (folder / "b.csv").symlink_to(secret)
    (folder / "c.csv").symlink_to(fifo)
    os.mkfifo(folder / "d.csv")
    (folder / "e.csv").symlink_to("/dev/zero")
    yield folder
    release_fifo_readers(folder / "d.csv")


def test_links_and_special_files_in_a_folder_are_skipped_with_the_reason(inbox, secret, fifo, empty_storage):
    code, out, err = run("ingest", str(inbox), "--vendor", "Acme", "--currency", "EUR")
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines()] == [f"{inbox}/a.csv"]
    skipped = dict(line.split(": skipped — ") for line in err.splitlines())
    assert skipped == {
        f"{inbox}/b.csv": f"is a symbolic link to the file {secret}: links are not followed unless asked; pass "
                          f"--follow-symlinks to ingest what it points to, or name {secret} itself",
        f"{inbox}/c.csv": f"is a symbolic link to {fifo}, a named pipe (FIFO), not a regular file: PriceHub reads "
                          "only files saved on disk, with or without --follow-symlinks",
        f"{inbox}/d.csv": "is a named pipe (FIFO), not a regular file: PriceHub reads only spreadsheets and chat "
                          "exports saved on disk",
        f"{inbox}/e.csv": "is a symbolic link to /dev/zero, a character device, not a regular file: PriceHub reads "
                          "only files saved on disk, with or without --follow-symlinks",
    }
    assert list(SourceDocument.objects.values_list("original_filename", flat=True)) == ["a.csv"]


def test_follow_symlinks_in_a_folder_takes_linked_files_but_never_special_ones(inbox, empty_storage):
    code, out, err = run("ingest", str(inbox), "--vendor", "Acme", "--currency", "EUR", "--follow-symlinks",
                         "--json")
    assert code == 0, err
    rows = {row["file"].removeprefix(f"{inbox}/"): row for row in map(json.loads, out.splitlines())}
    assert {name: row["status"] for name, row in rows.items()} == {
        "a.csv": "succeeded", "b.csv": "succeeded", "c.csv": "skipped", "d.csv": "skipped", "e.csv": "skipped",
    }
    assert "a named pipe (FIFO)" in rows["c.csv"]["reason"] and "a character device" in rows["e.csv"]["reason"]
    assert sorted(SourceDocument.objects.values_list("original_filename", flat=True)) == ["a.csv", "passwd.csv"]


# --------------------------------------------------------------------------- empty, folder, unreadable


@pytest.mark.parametrize("content,expected", [
    (b"", "the file is empty (0 bytes): save or export the price list again, and check it is the right file"),
    (b"\n \r\n\t", "the file holds nothing but blank space (5 bytes of spaces and line breaks): save or export "
                   "the price list again, and check it is the right file"),
])
def test_an_empty_file_says_so_and_what_to_do(tmp_path, empty_storage, content, expected):
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    code, _, err = run("ingest", str(path), "--vendor", "Acme")
    assert (code, err) == (1, f"{path}: {expected}")
    assert_nothing_stored(empty_storage)


def test_a_folder_where_a_file_is_expected(tmp_path, empty_storage):
    listing = tmp_path / "list.csv"
    listing.write_text(CSV)
    code, _, err = run("ingest", str(listing / "sheet.csv"), "--vendor", "Acme")
    assert (code, err) == (1, f"{listing}/sheet.csv: no such file: {listing} is a file, not a folder, so nothing "
                              "can be inside it")
    folder = tmp_path / "inbox"
    folder.mkdir()
    code, _, err = run("ingest", str(folder), "--vendor", "Acme")
    assert (code, err) == (1, f"{folder}: no file in this folder to ingest (it is empty): put the price lists in "
                              "it, or name a file")
    # Where only a file will do (a schedule's path, services.ingest_path):
    assert intake.path_refusal(folder) == ("is a folder, not a file: name one of the files in it, or give the "
                                           "folder to `manage.py ingest`, which ingests the files it holds")
    assert intake.path_refusal(folder, folder_ok=True) == ""
    assert_nothing_stored(empty_storage)


def test_a_missing_file_relative_to_the_current_folder_says_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run("ingest", "nope.csv", "--vendor", "Acme")
    assert (code, err) == (1, f"nope.csv: no such file (looked for in {tmp_path})")


@pytest.fixture
def unreadable():
    """A CSV this process cannot read, in a folder everyone may enter, and the user id to run as:
    this process's own, or, as root (who reads everything), ``nobody``'s."""
    folder = Path(tempfile.mkdtemp(prefix="pricehub-unreadable-"))
    folder.chmod(0o755)
    path = folder / "list.csv"
    path.write_text(CSV)
    path.chmod(0o000)
    yield path, (NOBODY if os.geteuid() == 0 else None)
    shutil.rmtree(folder)


def test_an_unreadable_file_names_the_user_owner_and_mode(unreadable, empty_storage):
    path, uid = unreadable
    if uid is not None:
        os.setegid(uid)
        os.seteuid(uid)
    try:
        code, _, err = run("ingest", str(path), "--vendor", "Acme")
    finally:
        if uid is not None:
            os.seteuid(0)
            os.setegid(0)
    user = "nobody" if uid is not None else intake._user_name(os.geteuid())
    owner = intake._user_name(path.stat().st_uid)
    assert code == 1
    assert err.startswith(f"{path}: cannot be read: permission denied to the user {user} (the file is ----------, "
                          f"owned by {owner}:")
    assert err.endswith("make it readable for that user (chmod, chown), or run the command as a user who may read it")
    assert_nothing_stored(empty_storage)


# --------------------------------------------------------------------------- a real run


def command_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="pricehub.settings", PRICEHUB_ENV_FILE="none", DEBUG="true",
               SQLITE_PATH=str(tmp_path / "db.sqlite3"), INGESTION_STORAGE_DIR=str(tmp_path / "storage"))
    return env


def test_a_real_run_refuses_a_link_and_a_fifo_in_one_line_each_with_exit_code_1(tmp_path, secret, fifo):
    link = tmp_path / "list.csv"
    link.symlink_to(secret)
    env = command_env(tmp_path)
    for path, message in [
        (link, f"is a symbolic link to the file {secret}: links are not followed unless asked; pass "
               f"--follow-symlinks to ingest what it points to, or name {secret} itself"),
        (fifo, "is a named pipe (FIFO), not a regular file: PriceHub reads only spreadsheets and chat exports saved "
               "on disk"),
    ]:
        result = subprocess.run([sys.executable, "manage.py", "ingest", str(path), "--vendor", "Acme"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.splitlines() == [f"CommandError: {path}: {message}"]
    assert not (tmp_path / "storage").exists() or not any((tmp_path / "storage").rglob("*"))


def test_a_real_run_as_a_user_who_cannot_read_the_file(unreadable, tmp_path):
    """As root, the command runs without the capabilities that let root read any file."""
    path, uid = unreadable
    command = [sys.executable, "manage.py", "ingest", str(path), "--vendor", "Acme"]
    if uid is not None:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("running as root without setpriv (util-linux) to drop the capability to read any file")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, cwd=ROOT, env=command_env(tmp_path), capture_output=True, text=True, timeout=120)
    user = intake._user_name(os.geteuid())
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"CommandError: {path}: cannot be read: permission denied to the user {user} (the file is ----------, "
        f"owned by {user}:{Path(path).group()}); make it readable for that user (chmod, chown), or run the command "
        "as a user who may read it"
    ]
