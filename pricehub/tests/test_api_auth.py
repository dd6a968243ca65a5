import pytest
import yaml  # noqa: F401  (drf-spectacular depends on PyYAML)
from django.urls import reverse

ENDPOINTS = [
    "/documents",
    "/documents/{doc}",
    "/offers",
    "/offers/{offer}",
    "/products",
    "/products/{product}",
    "/vendors",
    "/vendors/{vendor}",
    "/price-history/product/{product}",
    "/api/schema",
]


@pytest.fixture
def paths(build):
    offer = build.offer(source_document=build.document())
    ids = {"doc": offer.source_document_id, "offer": offer.id, "product": offer.product_id, "vendor": offer.vendor_id}
    return [p.format(**ids) for p in ENDPOINTS]


def test_anonymous_requests_get_401(client, paths):
    for path in paths:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == "Token", path


def test_token_requests_get_200(token_client, paths):
    for path in paths:
        assert token_client.get(path).status_code == 200, path


def test_staff_session_gets_200_and_non_staff_session_403(client, staff_user, django_user_model, paths):
    client.force_login(staff_user)
    for path in paths:
        assert client.get(path).status_code == 200, path
    client.force_login(django_user_model.objects.create_user(username="plain", password="pw-plain-123"))
    for path in paths:
        assert client.get(path).status_code == 403, path


def test_bad_token_is_401(client, paths):
    for path in paths:
        assert client.get(path, HTTP_AUTHORIZATION="Token not-a-token").status_code == 401, path


def test_api_is_read_only(token_client, paths):
    for path in paths:
        expected = 415 if path == "/documents" else 405  # POST /documents is the multipart upload
        assert token_client.post(path, {}, format="json").status_code == expected, path


def test_openapi_schema_lists_every_endpoint(token_client):
    import json

    response = token_client.get("/api/schema?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    documented = set(schema["paths"])
    for path in ENDPOINTS[:-1]:
        templated = path.replace("{doc}", "{id}").replace("{offer}", "{id}").replace("{product}", "{id}").replace(
            "{vendor}", "{id}"
        )
        assert templated in documented or templated.replace("{id}", "{pk}") in documented, path
    offer_params = {p["name"] for p in schema["paths"]["/offers"]["get"]["parameters"]}
    assert {"vendor_id", "product_id", "document_id", "condition", "currency", "price_min", "price_max",
            "observed_since", "observed_until", "ordering", "cursor", "page_size"} <= offer_params


def test_healthz_is_open(client):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}


def test_openapi_schema_generates_without_warnings_and_validates(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/price-history/product/{id}" in target.read_text()


def test_openapi_schema_documents_the_error_answers_of_every_operation(token_client):
    schema = token_client.get("/api/schema?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (method, path)
    assert schema["components"]["schemas"]["Error"]["properties"]["detail"] == {"type": "string"}


def test_an_api_path_that_matches_no_route_answers_json_404_and_the_admin_keeps_its_page(token_client, admin_client):
    response = token_client.get("/products/not-a-number")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    page = admin_client.get("/admin/offers/no-such-model/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_whoami_names_the_token_or_the_session_and_refuses_anonymous(token_client, admin_client, client):
    by_token = token_client.get("/api/whoami").json()
    assert by_token["auth"] == "token" and by_token["token"].endswith("…") and by_token["scope"] in ("read", "write")
    assert admin_client.get("/api/whoami").json() == {"user": "admin", "auth": "session", "token": None, "scope": None}
    assert client.get("/api/whoami").status_code == 401
