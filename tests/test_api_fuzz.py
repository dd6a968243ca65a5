"""The API against its own OpenAPI schema, fuzzed: schemathesis (property-based, Hypothesis) over
every path of ``/api/schema``, against a real gunicorn on 127.0.0.1.

Checks: no answer is a server error (5xx), and every answer's status, content type and body are
the ones the schema documents for that operation. The run is bounded (``FUZZ_EXAMPLES`` cases per
operation, a fixed seed, so a failure reproduces) to keep CI short; ``SCHEMATHESIS_EXAMPLES``
raises it for a longer local run. Requests carry a write token (``Authorization: Token ...``),
the WhatsApp ingest token and the metrics token, so generated bodies reach the code behind authentication;
schemathesis also sends requests without them (its negative cases). Its report, with a pytest
file that replays each failure, stays in the test's log folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import servers

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
INGEST_TOKEN = "fuzz-ingest-token"
METRICS_TOKEN = "fuzz-metrics-token"
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def _seed_catalogue() -> None:
    """A vendor, a product, an offer and its history, and a document, so that detail paths have rows to find."""
    import io
    from decimal import Decimal

    from ingestion.services import register_file

    register_file(io.BytesIO(b"SKU,Description,Price\nIP15,iPhone 15 128GB,700\n"), "fuzz.csv",
                  vendor_name="Fuzz Vendor")

    from django.utils import timezone

    from offers.models import Offer, PriceHistory, Product, Vendor

    vendor = Vendor.objects.get(name="Fuzz Vendor")
    product = Product.objects.create(name="Apple iPhone 15 128GB", brand="Apple", model="iPhone 15",
                                     storage="128GB", match_key="apple|iphone 15|128gb||")
    now = timezone.now()
    offer = Offer.objects.create(vendor=vendor, product=product, sku="IP15-128", description="iPhone 15 128GB",
                                 price=Decimal("700.00"), currency="USD", quantity=3, condition="new",
                                 observed_at=now, source_ref="fuzz!1")
    PriceHistory.objects.create(product=product, vendor=vendor, condition="new", price=Decimal("700.00"),
                                currency="USD", observed_at=now, offer=offer)


def test_every_api_path_answers_as_its_schema_says_and_never_500(live):
    from django.contrib.auth import get_user_model

    from pricehub.models import ApiToken
    from pricehub.tokens import issue_token

    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("fuzzer", password="fuzz-pass-1234", is_staff=True)
    # may upload (POST /documents), so that the upload's checks are fuzzed, not only its 403
    staff.user_permissions.add(Permission.objects.get(codename="change_sourcedocument"))
    _, key = issue_token(staff, name="fuzz", scope=ApiToken.Scope.WRITE)
    _seed_catalogue()
    env = live.env(
        API_RATE_LIMIT_PER_MINUTE="1000000", WHATSAPP_INGEST_TOKEN=INGEST_TOKEN,
        WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE="1000000", WHATSAPP_INGEST_RATE_LIMIT_BURST="1000000",
        METRICS_TOKEN=METRICS_TOKEN,
    )
    with servers.start_gunicorn(env, log_dir=live.logs, workers=2, lifetime=600) as server:
        report = live.logs / "schemathesis"
        result = subprocess.run(
            [
                SCHEMATHESIS, "run", f"{server.url}/api/schema", "--url", server.url,
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                            "response_schema_conformance",
                "--max-examples", str(FUZZ_EXAMPLES), "--seed", "20261130",
                # one worker: with threads, Hypothesis's reading of lambda sources (ast.parse) crashed
                # schemathesis itself on Python 3.11 ("AST constructor recursion depth mismatch")
                "--workers", "1",
                "--header", f"Authorization: Token {key}", "--header", f"X-Ingest-Token: {INGEST_TOKEN}",
                "--header", f"X-Metrics-Token: {METRICS_TOKEN}",
                "--request-timeout", "30", "--generation-database", "none", "--no-color",
                "--report", "junit,pytest", "--report-dir", str(report),
            ],
            cwd=live.logs, capture_output=True, text=True, timeout=900,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, (
            f"schemathesis found problems (exit {result.returncode}); its report is in {report}:\n{output[-12000:]}"
            f"\n--- gunicorn log ---\n{server.log()[-4000:]}"
        )
