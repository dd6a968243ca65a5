import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from documents.models import SourceDocument
from ingestion.tests.conftest import HEADER, write_xlsx
from offers.models import Vendor

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()


def test_ingest_prints_a_summary_and_creates_the_vendor(price_list):
    code, out, err = run("ingest", str(price_list), "--vendor", "Acme Phones")
    assert code == 0
    assert "acme.xlsx: partial" in out and "2 offers, 1 errors" in out
    assert "Prices!6" in err
    assert Vendor.objects.filter(name="Acme Phones").exists()


def test_ingest_json_one_object_per_file(price_list, tmp_path):
    clean = write_xlsx(tmp_path / "clean.xlsx", [HEADER, ["A", "Phone A", 10, 1, "New"]])
    code, out, _ = run("ingest", str(price_list), str(clean), "--vendor", "Acme", "--json", "--currency", "EUR")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["status"], r["offers_created"], len(r["errors"])) for r in lines] == [("partial", 2, 1), ("succeeded", 1, 0)]
    assert set(lines[0]) == {"document_id", "status", "offers_created", "errors"}
    assert SourceDocument.objects.get(pk=lines[1]["document_id"]).status == "succeeded"


def test_ingest_exits_non_zero_when_any_file_failed(price_list, tmp_path):
    code, out, err = run("ingest", str(price_list), str(tmp_path / "nope.xlsx"), "--vendor", "Acme", "--json")
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[1]["status"] == "failed" and "no such file" in rows[1]["errors"][0]["message"]
    assert "1 of 2 file(s) failed" in err


def test_ingest_passes_options_and_rejects_malformed_ones(price_list):
    code, _, _ = run("ingest", str(price_list), "--vendor", "Acme", "--option", "prefer_llm=true", "--processor",
                     "spreadsheet")
    assert code == 0
    assert SourceDocument.objects.get().options["options"] == {"prefer_llm": "true"}
    code, _, err = run("ingest", str(price_list), "--option", "prefer_llm")
    assert code == 1 and "is not KEY=VALUE" in err


def test_list_documents_table_newest_first_with_filters(price_list, tmp_path):
    run("ingest", str(price_list), "--vendor", "Acme")
    run("ingest", str(write_xlsx(tmp_path / "b.xlsx", [HEADER, ["B", "Phone B", 5, 1, "New"]])), "--vendor", "Bolt")
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
