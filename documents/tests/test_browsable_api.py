"""Every API page renders in a browser: a staff session asking for ``text/html``.

The browsable API is among the renderers whatever ``DEBUG`` says (the suite
runs with it off, as production does).
"""

import pytest

pytestmark = pytest.mark.django_db

HTML = "text/html"



@pytest.fixture
def rows(build):
    vendor = build.vendor("Acme Mobile")
    product = build.product("iPhone 15 128GB Black", brand="Apple")
    document = build.document(
        vendor=vendor, status="partial", processor="spreadsheet", original_filename="acme-week-48.xlsx",
        extra={"errors": [{"ref": "Prices!6", "field": "price", "message": "price 'call' is not a number",
                           "value": "call"}], "stats": {"offers_created": 1, "errors": 1}},
    )
    offer = build.offer(vendor=vendor, product=product, price="749.50", currency="EUR", source_document=document)
    return {"vendor": vendor, "product": product, "document": document, "offer": offer}


def pages(rows):
    """(path, text the page must show) for every list and detail endpoint."""
    document, offer, product, vendor = rows["document"], rows["offer"], rows["product"], rows["vendor"]
    return [
        ("/documents", "acme-week-48.xlsx"),
        (f"/documents?status=partial&vendor_id={vendor.pk}", "acme-week-48.xlsx"),
        (f"/documents/{document.pk}", "price &#x27;call&#x27; is not a number"),
        ("/offers", "749.50"),
        (f"/offers?vendor_id={vendor.pk}&currency=EUR&ordering=price", "749.50"),
        (f"/offers/{offer.pk}", "749.50"),
        ("/products", "iPhone 15 128GB Black"),
        ("/products?q=iphone", "iPhone 15 128GB Black"),
        (f"/products/{product.pk}", "iPhone 15 128GB Black"),
        ("/vendors", "Acme Mobile"),
        (f"/vendors/{vendor.pk}", "Acme Mobile"),
        (f"/price-history/product/{product.pk}", "749.50"),
    ]


def test_every_list_and_detail_page_renders_as_html_for_staff(staff_client, rows):
    for path, shown in pages(rows):
        response = staff_client.get(path, HTTP_ACCEPT=HTML)
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["Content-Type"].startswith(HTML), path
        page = response.content.decode()
        assert "Django REST framework" in page, path
        assert shown in page, (path, shown)


def test_filtered_lists_show_their_filter_form(staff_client, rows):
    for path, field in [("/documents", 'name="status"'), ("/offers", 'name="price_min"'), ("/products", 'name="q"')]:
        page = staff_client.get(path, HTTP_ACCEPT=HTML).content.decode()
        assert "Filters" in page and field in page, path


def test_a_browser_accept_header_gets_the_html_page(staff_client, rows):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = staff_client.get("/offers", HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(HTML)


def test_scripts_still_get_json(token_client, rows):
    response = token_client.get("/offers")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"


def test_html_pages_still_need_authentication(client, rows):
    assert client.get("/offers", HTTP_ACCEPT=HTML).status_code == 401
