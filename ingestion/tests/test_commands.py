import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ingestion import processors

from documents.models import SourceDocument
from ingestion.tests.conftest import HEADER, run_command, stored_files, write_xlsx
from offers.models import Vendor

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


run = run_command


def test_ingest_prints_a_summary_and_creates_the_vendor(price_list):
    code, out, err = run("ingest", str(price_list), "--vendor", "Acme Phones")
    assert code == 0
    assert "acme.xlsx: partial" in out and "2 offers, 1 rejected row," in out
    assert "Prices!6" in err
    assert Vendor.objects.filter(name="Acme Phones").exists()


def test_ingest_json_one_object_per_file(price_list, tmp_path):
    clean = write_xlsx(tmp_path / "clean.xlsx", [HEADER, ["A", "Phone A", 10, 1, "New"]])
    code, out, _ = run("ingest", str(price_list), str(clean), "--vendor", "Acme", "--json", "--currency", "EUR")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["status"], r["offers_created"], len(r["errors"])) for r in lines] == [("partial", 2, 1), ("succeeded", 1, 0)]
    assert set(lines[0]) == {
        "file", "document_id", "status", "offers_created", "rows_not_offers", "failure", "warnings", "notes", "errors",
    }
    assert [r["file"] for r in lines] == [str(price_list), str(clean)]  # the paths as given
    assert SourceDocument.objects.get(pk=lines[1]["document_id"]).status == "succeeded"


def test_ingest_prints_the_documents_warnings_and_rows_that_are_not_offers(tmp_path, settings):
    settings.DEFAULT_CURRENCY = "USD"
    sheet = write_xlsx(tmp_path / "stock.xlsx", [HEADER, ["A", "Phone A", 10, 1, "New"], ["B", "Phone B", 12, 0, "New"]])
    code, out, err = run("ingest", str(sheet), "--vendor", "Acme")
    assert code == 0
    assert "partial" in out and "1 offer, 0 rejected rows, 1 row not offers (hidden, filtered or sold out)" in out
    assert "warning: 1 offer named no currency" in err
    code, out, _ = run("ingest", str(sheet), "--vendor", "Acme", "--json", "--force")
    line = json.loads(out)
    assert line["rows_not_offers"] == 1 and line["warnings"][0].startswith("1 offer named no currency")


def test_ingest_exits_non_zero_when_any_file_failed(price_list, tmp_path):
    code, out, err = run("ingest", str(price_list), str(tmp_path / "nope.xlsx"), "--vendor", "Acme", "--json")
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[1] == {"file": str(tmp_path / "nope.xlsx"), "document_id": None, "status": "refused",
                       "offers_created": 0,
                       "errors": [{"ref": str(tmp_path / "nope.xlsx"), "field": "", "message": "no such file",
                                   "value": ""}]}
    assert "1 of 2 files failed" in err


def test_ingest_passes_options_and_rejects_malformed_ones(price_list):
    code, _, _ = run("ingest", str(price_list), "--vendor", "Acme", "--option", "prefer_llm=true", "--processor",
                     "spreadsheet")
    assert code == 0
    assert SourceDocument.objects.get().options["options"] == {"prefer_llm": "true"}
    code, _, err = run("ingest", str(price_list), "--option", "prefer_llm")
    assert code == 1 and "is not KEY=VALUE" in err


def test_list_documents_table_newest_first_with_filters(price_list, tmp_path):
    run("ingest", str(price_list), "--vendor", "Acme")
    run("ingest", str(write_xlsx(tmp_path / "b.xlsx", [HEADER, ["B", "Phone B", 5, 1, "New"]])), "--vendor", "Bolt",
        "--currency", "EUR")
    code, out, _ = run("list_documents", "--limit", "20")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "STATUS", "PROCESSOR", "VENDOR", "OFFERS", "ERRORS", "FILE"]
    assert "b.xlsx" in lines[1] and "acme.xlsx" in lines[2]
    _, out, _ = run("list_documents", "--status", "partial")
    assert "acme.xlsx" in out and "b.xlsx" not in out
    _, out, _ = run("list_documents", "--vendor", "bolt")
    assert "b.xlsx" in out and "acme.xlsx" not in out
    _, out, _ = run("list_documents", "--limit", "1")
    assert len(out.splitlines()) == 2


# --------------------------------------------------------------------------- folders, refusals, options

CSV = "MODEL/SKU,DESCRIPTION,PRICE\nX1,Pixel 8,500\n"


@pytest.fixture
def inbox(tmp_path):
    """A vendor's folder: two lists, and what a real folder also holds."""
    folder = tmp_path / "inbox"
    (folder / "old").mkdir(parents=True)
    write_xlsx(folder / "b.xlsx", [HEADER, ["B", "Phone B", 5, 1, "New"]])
    (folder / "a.csv").write_text(CSV)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "notes.md").write_text("call Ana on monday\n")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "old" / "c.csv").write_text(CSV.replace("X1", "X2"))
    return folder


def test_ingest_folder_takes_its_supported_files_sorted_and_says_what_it_skipped(inbox):
    code, out, err = run("ingest", str(inbox), "--vendor", "Acme", "--currency", "EUR")
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines()] == [f"{inbox}/a.csv", f"{inbox}/b.xlsx"]
    assert sorted(SourceDocument.objects.values_list("original_filename", flat=True)) == ["a.csv", "b.xlsx"]
    skipped = dict(line.split(": skipped — ") for line in err.splitlines())
    assert skipped[f"{inbox}/.DS_Store"] == "hidden file"
    assert skipped[f"{inbox}/empty.csv"].startswith("the file is empty (0 bytes): ")
    assert skipped[f"{inbox}/notes.md"].startswith("cannot tell what kind of file this is; PriceHub reads spreadsheet")
    assert "--recursive" in skipped[f"{inbox}/old"]


def test_ingest_folder_recursive_and_json_name_every_file(inbox):
    code, out, _ = run("ingest", str(inbox), "--recursive", "--vendor", "Acme", "--currency", "EUR", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["file"].removeprefix(f"{inbox}/"), r["status"]) for r in rows] == [
        (".DS_Store", "skipped"), ("a.csv", "succeeded"), ("b.xlsx", "succeeded"), ("empty.csv", "skipped"),
        ("notes.md", "skipped"), ("old/c.csv", "succeeded"),
    ]
    assert rows[0]["reason"] == "hidden file" and rows[0]["document_id"] is None


def test_folder_without_a_file_to_ingest_is_refused(tmp_path, empty_storage):
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "readme.md").write_text("hello\n")
    code, _, err = run("ingest", str(folder), "--vendor", "Acme")
    assert code == 1
    assert err.splitlines()[-1] == f"{folder}: no file in this folder to ingest (1 skipped, see above)"
    assert SourceDocument.objects.count() == 0 and stored_files(empty_storage) == []


@pytest.mark.parametrize("name,content,reason", [
    ("list.gif", b"GIF89a a picture of a list", "cannot tell what kind of file this is; PriceHub reads"),
    ("empty.xlsx", b"", "the file is empty"),
    ("blank.csv", b"\n \n", "the file holds nothing but blank space"),
    ("missing.csv", None, "no such file"),
])
def test_a_user_mistake_is_refused_in_one_line_and_stores_nothing(tmp_path, empty_storage, caplog, name, content,
                                                                   reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError) as raised:
        call_command("ingest", str(path), "--vendor", "Acme", stdout=StringIO(), stderr=StringIO())
    message = str(raised.value)
    assert raised.value.returncode == 1
    assert message.startswith(f"{path}: {reason}") and "\n" not in message
    assert SourceDocument.objects.count() == 0 and stored_files(empty_storage) == []
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_refusal_is_one_line_on_stderr_with_exit_code_1_in_a_real_run(tmp_path):
    path = tmp_path / "scan.gif"
    path.write_bytes(b"GIF89a not a price list PriceHub reads")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="pricehub.settings", PRICEHUB_ENV_FILE="none", DEBUG="true",
               SQLITE_PATH=str(tmp_path / "db.sqlite3"), INGESTION_STORAGE_DIR=str(tmp_path / "storage"))
    result = subprocess.run([sys.executable, "manage.py", "ingest", str(path), "--vendor", "Acme"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"CommandError: {path}: cannot tell what kind of file this is; PriceHub reads "
        + processors.supported_files()
    ]
    assert not (tmp_path / "storage").exists() or not any((tmp_path / "storage").rglob("*.pdf"))


@pytest.mark.parametrize("option,processor,expected", [
    ("colour=red", "", "unknown option 'colour'; known options: spreadsheet: encoding, delimiter; whatsapp_text: "
                       "day_first, timezone"),
    ("day_first=true", "spreadsheet", "unknown option 'day_first' for the spreadsheet processor; known options: "
                                      "encoding=NAME"),
    ("day_first=maybe", "whatsapp_text", "option day_first='maybe' is not a boolean (use true or false)"),
    ("timezone=Mars/Base", "whatsapp_text", "option timezone='Mars/Base' is not a known IANA time zone"),
    ("encoding=nope", "spreadsheet", "option encoding='nope' is not a known text encoding"),
])
def test_unknown_or_bad_options_are_refused_before_a_document_is_created(price_list, empty_storage, option,
                                                                          processor, expected):
    args = ["ingest", str(price_list), "--vendor", "Acme", "--option", option]
    code, _, err = run(*args, *(["--processor", processor] if processor else []))
    assert code == 1 and expected in err
    assert SourceDocument.objects.count() == 0 and stored_files(empty_storage) == []


def test_bad_option_value_for_the_detected_processor_names_the_file(tmp_path, empty_storage):
    chat = tmp_path / "chat.txt"
    chat.write_text("12/09/2025, 10:02 - Ana: iPhone 15 128GB 750 USD\n12/09/2025, 10:03 - Ana: Pixel 8 500 USD\n"
                    "12/09/2025, 10:04 - Ana: Galaxy S24 820 USD\n")
    code, _, err = run("ingest", str(chat), "--option", "timezone=Mars/Base")
    assert code == 1 and f"{chat}: option timezone='Mars/Base' is not a known IANA time zone" in err
    code, _, err = run("ingest", str(chat), "--option", "encoding=utf-8")  # a spreadsheet option
    assert code == 1 and f"{chat}: unknown option 'encoding' for the whatsapp_text processor" in err
    assert SourceDocument.objects.count() == 0 and stored_files(empty_storage) == []
    code, _, err = run("ingest", str(chat), "--option", "day_first=YES", "--option", "timezone=Europe/Berlin")
    assert code == 0, err
    assert SourceDocument.objects.get().options["options"] == {"day_first": "true", "timezone": "Europe/Berlin"}


def test_counts_are_in_the_right_number(tmp_path):
    path = write_xlsx(tmp_path / "one.xlsx", [HEADER, ["A", "Phone A", 10, 1, "New"], ["B", "Phone B", "call", 1, "New"]])
    code, out, _ = run("ingest", str(path), "--vendor", "Acme", "--currency", "EUR")
    assert code == 0
    assert ": partial — document #" in out and ", 1 offer, 1 rejected row, " in out
    code, _, err = run("ingest", str(tmp_path / "nope.csv"), str(tmp_path / "nope2.csv"))
    assert "2 of 2 files failed" in err


def test_progress_bar_counts_rows_in_the_right_number():
    from ingestion.management.commands.ingest import ProgressBar

    stream = StringIO()
    bar = ProgressBar(stream, "chat.txt")
    bar(1, None)
    bar(2_500, None)
    bar(50, 200)
    assert stream.getvalue().split("\r")[1:] == ["chat.txt 1 row", "chat.txt 2,500 rows",
                                                 "chat.txt [######                   ]  25% (50/200)"]


def test_recursive_ingest_does_not_follow_a_link_back_up_the_tree(inbox):
    (inbox / "old" / "loop").symlink_to(inbox)
    code, out, err = run("ingest", str(inbox), "--recursive", "--follow-symlinks", "--vendor", "Acme", "--currency",
                         "EUR")
    assert code == 0, err
    assert f"{inbox}/old/loop: skipped — a link to a folder already read" in err
    assert len(out.splitlines()) == 3  # a.csv, b.xlsx, old/c.csv


def test_a_processor_that_does_not_read_the_file_is_refused_naming_the_right_one(price_list, settings):
    from pathlib import Path

    stored_before = set(Path(settings.INGESTION_STORAGE_DIR).rglob("*"))
    code, _, err = run("ingest", str(price_list), "--processor", "whatsapp_text", "--vendor", "Acme")
    assert code == 1
    assert "this is not a file the whatsapp_text processor reads; it looks like one for spreadsheet" in err
    assert not SourceDocument.objects.exists()
    assert set(Path(settings.INGESTION_STORAGE_DIR).rglob("*")) == stored_before  # nothing stored


def test_ingest_says_a_file_is_unchanged_stores_nothing_and_force_ingests_it_again(tmp_path):
    sheet = write_xlsx(tmp_path / "stock.xlsx", [HEADER, ["A", "Phone A", "10 USD", 1, "New"]])
    code, out, _ = run("ingest", str(sheet), "--vendor", "Acme")
    assert code == 0 and "succeeded" in out
    first = SourceDocument.objects.get()
    code, out, err = run("ingest", str(sheet), "--vendor", "Acme")
    assert code == 0 and err == ""
    assert out.strip() == (f"{sheet}: unchanged: the same content was already ingested as document #{first.pk} "
                           f"(succeeded, {first.finished_at:%Y-%m-%d %H:%M} UTC) with the same vendor and settings; "
                           "nothing new was stored (--force ingests it again)")
    code, out, _ = run("ingest", str(sheet), "--vendor", "Acme", "--json")
    assert json.loads(out)["status"] == "unchanged" and json.loads(out)["document_id"] == first.pk
    assert SourceDocument.objects.count() == 1
    code, out, _ = run("ingest", str(sheet), "--vendor", "Acme", "--force")
    assert code == 0 and "succeeded" in out and SourceDocument.objects.count() == 2


def test_a_chat_in_utf16_without_a_byte_order_mark_is_read_or_refused_saying_so(tmp_path):
    latin = tmp_path / "chat-utf16le.txt"
    latin.write_bytes("12/03/2024, 09:15 - Ali: iPhone 15 128GB 650$\n".encode("utf-16-le"))
    code, out, err = run("ingest", str(latin), "--vendor", "Acme")
    assert code == 0 and "succeeded" in out, err
    persian = tmp_path / "chat-fa.txt"  # no ASCII-heavy text to tell the byte order by
    persian.write_bytes(("آیفون ۱۵ قیمت ۶۵۰ دلار موجود است " * 20).encode("utf-16-le"))
    code, _, err = run("ingest", str(persian), "--vendor", "Acme")
    assert code == 1 and "UTF-16 without a byte-order mark" in err
    assert SourceDocument.objects.count() == 1


def test_a_failed_files_reason_is_printed_once_by_the_command_and_still_logged_by_the_service(tmp_path, settings,
                                                                                               caplog):
    from ingestion.services import ingest_path

    settings.INGESTION_MAX_SHEET_ROWS = 5
    path = write_xlsx(tmp_path / "big.xlsx", [HEADER] + [[f"S{i}", f"Phone {i}", 100 + i, 1, "New"] for i in range(9)])
    code, out, err = run_command("ingest", str(path), "--vendor", "Acme", "--currency", "USD")
    assert code == 1
    reason = "sheet 'Prices' has more than 5 rows (limit INGESTION_MAX_SHEET_ROWS)"
    assert err.count(reason) == 1 and reason not in caplog.text
    document = ingest_path(path, vendor_name="Acme", currency="USD", force=True)  # as the worker runs it
    assert document.status == "failed" and caplog.text.count(reason) == 1
