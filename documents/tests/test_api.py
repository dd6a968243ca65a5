def test_documents_list_and_detail_include_errors_and_stats(token_client, build):
    vendor = build.vendor("Acme")
    doc = build.document(
        vendor=vendor,
        status="partial",
        processor="spreadsheet",
        extra={
            "errors": [{"ref": "Pricing!7", "field": "price", "message": "price 'call' is not a number", "value": "call"}],
            "stats": {"rows_seen": 10, "offers_created": 9},
            "warnings": ["2 offers named no currency"],
            "skipped": [{"ref": "Pricing!9", "field": "quantity", "message": "sold out (quantity 0)", "value": "0",
                         "reason": "sold_out"}],
        },
    )
    build.document(status="failed")
    listing = token_client.get("/documents").json()["results"]
    assert [row["id"] for row in listing][1] == doc.id
    assert listing[1]["offers_created"] == 9 and listing[1]["error_count"] == 1
    assert [row["id"] for row in token_client.get("/documents?status=partial").json()["results"]] == [doc.id]
    assert [row["id"] for row in token_client.get(f"/documents?vendor_id={vendor.id}").json()["results"]] == [doc.id]
    detail = token_client.get(f"/documents/{doc.id}").json()
    assert detail["errors"][0]["ref"] == "Pricing!7"
    assert detail["stats"]["rows_seen"] == 10
    assert detail["warnings"] == ["2 offers named no currency"] and detail["failure"] == ""
    assert detail["skipped"][0]["reason"] == "sold_out"
    assert detail["vendor_name"] == "Acme"
    assert token_client.get("/documents/999999").status_code == 404
