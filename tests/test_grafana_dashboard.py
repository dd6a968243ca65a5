"""docs/observability/whatsapp_grafana_dashboard.json: an importable Grafana dashboard (JSON API data
source) whose every query points at a field the endpoints really answer.

The structure is checked the way Grafana's import reads it (``__inputs`` for each data source,
``__requires`` for the plugin and every panel type, unique panel ids, grid positions, each target's
data source among the inputs). The fields are checked against real answers: a few messages are
ingested through ``POST /integrations/whatsapp/ingest`` (one with a bad attachment, one refused
request), then ``GET /metrics/whatsapp`` and ``GET /chat/tools/diagnostics`` are read with the
Django test client, and each panel's JSONPath must find its field there (for ``[*]`` paths: in
every element of a non-empty list). If the diagnostics endpoint still answers 501 (it is written
in parallel), its part is checked against the contract's shape (``DIAGNOSTICS_CONTRACT``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "observability" / "whatsapp_grafana_dashboard.json"
PLUGIN = "marcusolsson-json-datasource"
TOKEN = "dashboard-ingest-token"
METRICS_TOKEN = "dashboard-metrics-token"
ENDPOINTS = {"/metrics/whatsapp", "/chat/tools/diagnostics"}

# The diagnostics JSON shape agreed for issue 12 (used only when the endpoint is not there yet).
DIAGNOSTICS_CONTRACT = {
    "generated_at": "2026-11-30T12:00:00Z",
    "totals": {name: 0 for name in ("messages", "pending", "extracted", "errors", "offers", "chats", "unmapped_chats",
                                    "accepted", "created", "deduped", "media_failed", "auth_failures", "forbidden",
                                    "rate_limited", "signature_failures")},
    "lag_seconds": {"p50": None, "p95": None, "max": None, "samples": 0},
    "chats": [{"chat_id": 1, "chat_title": "Smoke Chat", "vendor": None, "mapped": False, "messages": 1,
               "pending": 1, "extracted": 0, "offers": 0, "errors": 0, "last_extracted_at": None,
               "extract_due_at": "2026-11-30T12:00:30Z", "lag_seconds": None}],
}


def load() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def query_panels(dashboard: dict) -> list[dict]:
    """Every panel with queries (rows excluded), nested rows' panels included."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


# --------------------------------------------------------------------------- a JSONPath subset


STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\*|\d+)\]")


def jsonpath(document, path: str) -> list:
    """The values ``path`` selects in ``document``, for the subset the dashboard uses: ``$``, ``.key``,
    ``[*]`` and ``[n]``. A missing key or index selects nothing for that branch; raises
    ``ValueError`` for any other syntax (so the dashboard cannot use what this test cannot check)."""
    if not path.startswith("$"):
        raise ValueError(f"a JSONPath starts with $: {path!r}")
    position, current = 1, [document]
    while position < len(path):
        match = STEP.match(path, position)
        if not match:
            raise ValueError(f"unsupported JSONPath syntax at {position} in {path!r}")
        key, index = match.groups()
        following = []
        for value in current:
            if key is not None:
                if isinstance(value, dict) and key in value:
                    following.append(value[key])
            elif index == "*":
                if isinstance(value, list):
                    following.extend(value)
            elif isinstance(value, list) and int(index) < len(value):
                following.append(value[int(index)])
        current, position = following, match.end()
    return current


def path_holds(document, path: str) -> bool:
    """Whether ``path`` finds its field: a plain path selects one value (``null`` counts: the key is
    there); a ``[*]`` path needs a non-empty list whose every element has the field."""
    if "[*]" not in path:
        return len(jsonpath(document, path)) == 1
    head, _, tail = path.partition("[*]")
    lists = jsonpath(document, head)
    if len(lists) != 1 or not isinstance(lists[0], list) or not lists[0]:
        return False
    return all(path_holds(element, "$" + tail) if tail else True for element in lists[0])


def test_the_jsonpath_subset():
    doc = {"a": {"b": 1, "n": None}, "l": [{"x": 1}, {"x": 2}], "e": []}
    assert jsonpath(doc, "$.a.b") == [1] and jsonpath(doc, "$.l[*].x") == [1, 2] and jsonpath(doc, "$.l[1].x") == [2]
    assert path_holds(doc, "$.a.n") and not path_holds(doc, "$.a.c")
    assert path_holds(doc, "$.l[*].x") and not path_holds(doc, "$.l[*].y") and not path_holds(doc, "$.e[*].x")
    with pytest.raises(ValueError):
        jsonpath(doc, "$.l[?(@.x == 1)]")


# --------------------------------------------------------------------------- structure


def test_dashboard_is_an_importable_grafana_dashboard():
    dashboard = load()
    assert dashboard["title"] and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"])
    assert isinstance(dashboard["schemaVersion"], int) and 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard.get("id") is None  # an import creates it
    inputs = {item["name"]: item for item in dashboard["__inputs"]}
    assert inputs and all(item["type"] == "datasource" and item["pluginId"] == PLUGIN for item in inputs.values())
    requires = {(item["type"], item["id"]) for item in dashboard["__requires"]}
    assert ("datasource", PLUGIN) in requires and ("grafana", "grafana") in requires

    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids))
    panels = query_panels(dashboard)
    assert len(panels) >= 8
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid) and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
    for panel in panels:
        assert ("panel", panel["type"]) in requires, f"{panel['type']} missing from __requires"
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"]["type"] == PLUGIN
        uid = panel["datasource"]["uid"]
        assert uid.startswith("${") and uid[2:-1] in inputs, f"panel {panel['title']!r}: {uid} is not an input"
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["method"] == "GET" and target["urlPath"] in ENDPOINTS, target
            assert target["fields"] and all(field["jsonPath"].startswith("$.") for field in target["fields"])
            assert all(field.get("type") in (None, "number", "string", "time", "boolean")
                       for field in target["fields"])
            assert not target["headers"], "credentials belong on the data source, never in the dashboard"
            for field in target["fields"]:
                jsonpath({}, field["jsonPath"])  # the syntax is in the checked subset
            # a panel's fields are read as one frame: all lists or all single values
            assert len({"[*]" in field["jsonPath"] for field in target["fields"]}) == 1, panel["title"]
        for transformation in panel.get("transformations", []):
            if transformation["id"] == "calculateField":
                binary = transformation["options"]["binary"]
                names = {field["name"] for target in panel["targets"] for field in target["fields"]}
                assert {binary["left"], binary["right"]} <= names, panel["title"]


def test_the_playbooks_panels_are_there():
    """Playbook section 8: throughput, dedupe ratio, extraction lag, media success, 401/403/429."""
    paths = {field["jsonPath"] for panel in query_panels(load()) for target in panel["targets"]
             for field in target["fields"]}
    titles = " | ".join(panel["title"].lower() for panel in query_panels(load()))
    assert {"$.totals.accepted", "$.totals.created"} <= paths and "throughput" in " ".join(
        panel["title"].lower() for panel in load()["panels"])
    assert {"$.totals.deduped", "$.totals.accepted"} <= paths and "dedupe ratio" in titles
    assert "$.lag_seconds.p95" in paths and "extraction lag" in titles
    assert "$.totals.media_failed" in paths and "media success" in titles
    assert {"$.totals.auth_failures", "$.totals.forbidden", "$.totals.rate_limited"} <= paths
    assert "401 / 403 / 429" in titles


# --------------------------------------------------------------------------- fields against real answers


@pytest.fixture
def answers(client, settings, django_user_model):
    """The real JSON of each endpoint after a few ingested messages, a refused request and a
    dropped attachment: ``{url path: document}``, and whether diagnostics fell back to the contract."""
    settings.WHATSAPP_INGEST_TOKEN = TOKEN
    settings.WHATSAPP_INGEST_HMAC_SECRET = ""
    settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = 6000
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 1000
    settings.WHATSAPP_INGEST_ALLOWED_IPS = []
    settings.REDIS_URL = ""
    settings.METRICS_TOKEN = METRICS_TOKEN
    body = json.dumps({"client_id": "dashboard", "messages": [
        {"chat_title": "Smoke Chat", "text": "Pixel 8 Pro - $750"},
        {"chat_title": "Smoke Chat", "text": "Pixel 8 Pro - $750"},  # deduped
        {"chat_title": "Deals", "text": "iPhone 15 Pro 256GB - $999"},
        {"chat_title": "Deals", "text": "Galaxy S24 Ultra 512GB - $1130",
         "media": {"filename": "x.xlsx", "mime_type": "application/octet-stream",
                   "data_base64": "!!not base64!!"}},  # dropped: media_failed
    ]}).encode()
    url = "/integrations/whatsapp/ingest"
    answer = client.post(url, data=body, content_type="application/json", HTTP_X_INGEST_TOKEN=TOKEN)
    assert answer.status_code == 200, answer.content
    assert answer.json()["created"] == 3 and answer.json()["deduped"] == 1
    assert client.post(url, data=body, content_type="application/json",
                       HTTP_X_INGEST_TOKEN="wrong").status_code == 401
    for chat in answer.json()["chats"]:  # an extraction, so last_extracted_at and the lag have values
        client.post(f"/integrations/whatsapp/chats/{chat['chat_id']}/extract-latest", HTTP_X_INGEST_TOKEN=TOKEN)

    metrics = client.get("/metrics/whatsapp", HTTP_X_METRICS_TOKEN=METRICS_TOKEN)
    assert metrics.status_code == 200, metrics.content
    found = {"/metrics/whatsapp": metrics.json()}
    diagnostics = client.get("/chat/tools/diagnostics", HTTP_X_INGEST_TOKEN=TOKEN, HTTP_ACCEPT="application/json")
    fell_back = diagnostics.status_code == 501
    if fell_back:
        found["/chat/tools/diagnostics"] = DIAGNOSTICS_CONTRACT
    else:
        assert diagnostics.status_code == 200, diagnostics.content
        found["/chat/tools/diagnostics"] = diagnostics.json()
    return found, fell_back


@pytest.mark.django_db
def test_every_panel_field_exists_in_the_real_answers(answers):
    documents, fell_back = answers
    metrics = documents["/metrics/whatsapp"]
    assert metrics["recent_failures"] and metrics["chats"]  # the lists the panels read are not empty
    assert {failure["status"] for failure in metrics["recent_failures"]} >= {401, 200}
    missing = []
    for panel in query_panels(load()):
        for target in panel["targets"]:
            for field in target["fields"]:
                if not path_holds(documents[target["urlPath"]], field["jsonPath"]):
                    missing.append(f"{panel['title']}: {target['urlPath']} {field['jsonPath']}")
    assert not missing, "fields the endpoints do not answer:\n" + "\n".join(missing)
    if not fell_back:  # the real diagnostics also have every field of the contract the dashboard may use
        diagnostics = documents["/chat/tools/diagnostics"]
        for path in ("$.totals.pending", "$.lag_seconds.p95", "$.chats[*].last_extracted_at"):
            assert path_holds(diagnostics, path)


@pytest.mark.django_db
def test_the_check_catches_a_field_that_does_not_exist(answers):
    documents, _ = answers
    assert not path_holds(documents["/metrics/whatsapp"], "$.totals.no_such_counter")
    assert not path_holds(documents["/metrics/whatsapp"], "$.chats[*].no_such_field")
