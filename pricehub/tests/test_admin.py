import pytest
from django.contrib import admin
from django.apps import apps
from django.urls import reverse

PROJECT_APPS = ["offers", "documents", "whatsapp", "ingestion"]


def test_every_project_model_is_registered():
    for app in PROJECT_APPS:
        for model in apps.get_app_config(app).get_models():
            assert admin.site.is_registered(model), model


def test_admin_is_staff_only(client, django_user_model):
    url = reverse("admin:offers_offer_changelist")
    assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user(username="plain", password="pw-plain-123"))
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response.headers["Location"]


def test_every_changelist_and_change_page_renders(staff_client, build):
    from whatsapp.models import Chat, Message

    offer = build.offer(source_document=build.document(), condition="new")
    chat = Chat.objects.create(external_id="c1", title="Deals", vendor=offer.vendor)
    Message.objects.create(chat=chat, text="iPhone 15 $750", sent_at=offer.observed_at, content_hash="0" * 64)
    for app in PROJECT_APPS:
        for model in apps.get_app_config(app).get_models():
            meta = model._meta
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
            assert staff_client.get(url).status_code == 200, url
            obj = model.objects.first()
            if obj is not None:
                change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
                assert staff_client.get(change).status_code == 200, change


@pytest.mark.parametrize("query", ["q=A30", "condition__exact=new", "currency__exact=USD"])
def test_offer_changelist_search_and_filters(staff_client, build, query):
    build.offer(sku="A3090", condition="new")
    response = staff_client.get(reverse("admin:offers_offer_changelist") + "?" + query)
    assert response.status_code == 200
    assert b"A3090" in response.content or b"1 offer" in response.content or b"results" in response.content
