"""API tokens: hashed at rest, several per user, read/write scope, expiry, revocation, last use,
the authtoken keys of before, the command and the admin that make them."""

import hashlib
import types
from datetime import timedelta
from importlib import import_module

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pricehub.models import ApiToken
from pricehub.tokens import issue_token

pytestmark = pytest.mark.django_db


def client_for(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="bi", password="pw-bi-12345")


def test_only_a_hash_of_the_key_is_stored(user):
    token, key = issue_token(user, name="BI export")
    assert key.startswith("phk_") and len(key) == 4 + 43
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(stored.values())
    assert stored["key_prefix"] == key[:12]


def test_a_user_may_have_several_tokens_each_working(user):
    keys = [issue_token(user, name=f"script {n}")[1] for n in range(3)]
    assert len(set(keys)) == 3
    for key in keys:
        assert client_for(key).get("/vendors").status_code == 200


def test_a_read_token_may_get_but_any_write_is_403_saying_read_only(user):
    _, key = issue_token(user, name="BI", scope="read")
    client = client_for(key)
    assert client.get("/offers").status_code == 200
    assert client.head("/offers").status_code == 200
    assert client.options("/offers").status_code == 200
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)("/documents", {}, format="json")
        assert response.status_code == 403, method
        assert "read-only" in response.json()["detail"] and "'write'" in response.json()["detail"]


def test_an_expired_token_is_401_saying_so(user):
    token, key = issue_token(user, name="old", expires_days=1)
    assert client_for(key).get("/offers").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_for(key).get("/offers")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert "expired on" in response.json()["detail"] and token.key_prefix in response.json()["detail"]


def test_a_revoked_token_is_401_saying_so(user):
    token, key = issue_token(user, name="leaked")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    response = client_for(key).get("/offers")
    assert response.status_code == 401 and "was revoked on" in response.json()["detail"]


def test_an_inactive_users_token_is_401(user):
    _, key = issue_token(user, name="x")
    user.is_active = False
    user.save()
    response = client_for(key).get("/offers")
    assert response.status_code == 401 and "inactive" in response.json()["detail"]


def test_unknown_and_malformed_tokens_are_401_saying_what_is_wrong():
    response = client_for("phk_" + "x" * 43).get("/offers")
    assert response.status_code == 401 and "unknown API token" in response.json()["detail"]
    response = APIClient().get("/offers", HTTP_AUTHORIZATION="Token two parts")
    assert response.status_code == 401 and "malformed" in response.json()["detail"]


def test_last_use_is_written_at_most_once_a_minute(user, django_assert_num_queries):
    token, key = issue_token(user, name="x")
    client = client_for(key)
    client.get("/vendors")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=30)
    client.get("/vendors")
    token.refresh_from_db()
    assert token.last_used_at == first  # less than a minute later: not written again
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/vendors")
    token.refresh_from_db()
    assert token.last_used_at > first


def test_an_authtoken_key_made_later_still_works_as_a_write_token_and_is_moved(user):
    legacy = Token.objects.create(user=user)
    response = client_for(legacy.key).get("/offers")
    assert response.status_code == 200
    assert not Token.objects.filter(key=legacy.key).exists()  # the clear copy is gone
    token = ApiToken.objects.get(key_hash=hashlib.sha256(legacy.key.encode()).hexdigest())
    assert token.scope == "write" and token.user == user and token.expires_at is None
    assert client_for(legacy.key).get("/offers").status_code == 200  # now found by its hash


def test_migration_moves_existing_authtoken_keys_and_deletes_the_clear_copies(user, django_user_model):
    other = django_user_model.objects.create_user(username="other", password="pw-other-123")
    legacy = [Token.objects.create(user=user), Token.objects.create(user=other)]
    keys = [token.key for token in legacy]
    Token.objects.filter(pk=keys[0]).update(created=timezone.now() - timedelta(days=400))
    created = {token.key: Token.objects.get(pk=token.key).created for token in legacy}
    migration = import_module("pricehub.migrations.0002_import_authtoken_keys")
    from django.apps import apps

    migration.import_keys(apps, types.SimpleNamespace(connection=connection))
    assert Token.objects.count() == 0
    for key, owner in zip(keys, (user, other)):
        token = ApiToken.objects.get(key_hash=hashlib.sha256(key.encode()).hexdigest())
        assert (token.user, token.scope, token.name) == (owner, "write", "imported from authtoken")
        assert abs(token.created_at - created[key]) < timedelta(seconds=1)
        assert client_for(key).get("/vendors").status_code == 200


def test_create_api_token_command_prints_the_key_once(user, capsys):
    call_command("create_api_token", "bi", "--scope", "read", "--expires-days", "90", "--name", "BI nightly")
    out, err = capsys.readouterr()
    key = out.strip()
    token = ApiToken.objects.get(key_hash=hashlib.sha256(key.encode()).hexdigest())
    assert (token.name, token.scope, token.user) == ("BI nightly", "read", user)
    assert timedelta(days=89, hours=23) < token.expires_at - timezone.now() <= timedelta(days=90)
    assert "cannot be shown again" in err and key not in err
    assert client_for(key).get("/offers").status_code == 200
    assert client_for(key).post("/documents", {}).status_code == 403


def test_create_api_token_command_errors_name_the_problem(user):
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("create_api_token", "nobody")
    with pytest.raises(CommandError, match="--expires-days: expires_days must be 1 or more, not 0"):
        call_command("create_api_token", "bi", "--expires-days", "0")
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        call_command("create_api_token", "bi", "--scope", "admin")
    assert ApiToken.objects.count() == 0


def test_admin_creates_a_token_shows_its_key_once_and_revokes_it(staff_client, user):
    response = staff_client.post(reverse("admin:pricehub_apitoken_add"), {
        "user": user.pk, "name": "BI from admin", "scope": "read", "expires_at_0": "", "expires_at_1": "",
    })
    assert response.status_code == 200, response.content
    assert "no-store" in response.headers["Cache-Control"]
    page = response.content.decode()
    key = page.split('<code id="api-token-key" style="font-size:1.2em; user-select:all">')[1].split("</code>")[0]
    assert key.startswith("phk_") and "cannot be shown again" in page
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest() and token.scope == "read"
    assert client_for(key).get("/offers").status_code == 200
    change_page = staff_client.get(reverse("admin:pricehub_apitoken_change", args=[token.pk])).content.decode()
    assert key not in change_page and token.key_prefix in change_page

    response = staff_client.post(reverse("admin:pricehub_apitoken_changelist"), {
        "action": "revoke_selected", "_selected_action": [token.pk],
    }, follow=True)
    assert "Revoked 1 API token(s)" in response.content.decode()
    assert client_for(key).get("/offers").status_code == 401


def test_admin_sets_an_expiry(staff_client, user):
    token, key = issue_token(user, name="x")
    past = timezone.localtime(timezone.now() - timedelta(hours=1))
    response = staff_client.post(reverse("admin:pricehub_apitoken_change", args=[token.pk]), {
        "name": "x", "scope": "read", "expires_at_0": past.strftime("%Y-%m-%d"),
        "expires_at_1": past.strftime("%H:%M:%S"),
    })
    assert response.status_code == 302, response.content
    assert "expired on" in client_for(key).get("/offers").json()["detail"]


def test_a_request_that_finds_the_authtoken_key_already_moved_gets_the_moved_token(user):
    """Two first uses at once: the second waits for the first's lock, then finds the clear copy
    gone; it must find the token the first one made (not answer 401)."""
    from pricehub.tokens import import_legacy_key

    key = Token.objects.create(user=user).key
    moved = import_legacy_key(key)
    assert moved is not None and not Token.objects.exists()
    assert import_legacy_key(key) == moved
    assert import_legacy_key("f" * 40) is None


def test_create_api_token_says_when_a_write_tokens_user_may_not_upload(user, capsys, grant_upload):
    call_command("create_api_token", "bi", "--scope", "write")
    assert "may not change documents (documents.change_sourcedocument)" in capsys.readouterr().err
    grant_upload(user)
    call_command("create_api_token", "bi", "--scope", "write")
    assert "may not change documents" not in capsys.readouterr().err
