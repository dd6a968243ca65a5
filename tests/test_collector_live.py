"""The Node WhatsApp collector end to end: its real code (config, batcher, signer, sender, spool,
status server; only the WhatsApp socket is faked, by ``collector/test/support/run-fake-whatsapp.js``)
posts its signed batches to the real ingest view under gunicorn on 127.0.0.1, on the suite's engine
(a SQLite file, or PostgreSQL when ``DATABASE_URL`` is set).

- The messages of two groups (live and offline-delivered upserts, one in a disappearing-messages
  wrapper) land with their chat, sender, id and time; the account's own message and a direct chat's
  never leave the collector; a real qcluster then turns them into offers, under the mapped vendor
  of one group and the provisional vendor of the other.
- With the backend unreachable the batches wait in the spool folder; the collector started again on
  the same folder, the backend up, delivers them: nothing is lost across the restart.

The collector's npm packages must be installed (``make install`` runs ``npm ci`` in collector/).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests import servers
from tests.live import wait_for

pytestmark = pytest.mark.slow

TOKEN = "collector-token"
SECRET = "collector-hmac-secret"
INGEST_PATH = "/integrations/whatsapp/ingest"
COLLECTOR = servers.ROOT / "collector"
DRIVER = COLLECTOR / "test" / "support" / "run-fake-whatsapp.js"

GROUP_A = "120363111111111111@g.us"  # mapped to a vendor before its first message
GROUP_B = "120363222222222222@g.us"  # never mapped: its offers go to a provisional vendor
GROUP_C = "120363333333333333@g.us"  # the restart scenario's group
DIRECT = "447911123456@s.whatsapp.net"
MARIO = "447911123456@s.whatsapp.net"
LINA = "447922333444@s.whatsapp.net"
SAM = "447933555666@s.whatsapp.net"


# --------------------------------------------------------------------------- helpers


def node() -> str:
    """The node binary; fails (not skips) saying what to install when the collector cannot run."""
    binary = shutil.which("node")
    if binary is None:
        pytest.fail("node is not installed: the collector needs Node 20 or later (see collector/package.json)")
    if not (COLLECTOR / "node_modules").is_dir():
        pytest.fail("collector/node_modules is missing: run `make install` (it runs `npm ci` in collector/) "
                    "before this test")
    return binary


def wa_message(jid: str, message_id: str, text: str, *, seconds: int, participant: str = MARIO,
               push_name: str = "Mario Phones", from_me: bool = False, wrap: str = "") -> dict:
    """A WhatsApp message as Baileys delivers it (``wrap``: "", "extended" or "ephemeral")."""
    content: dict = {"conversation": text}
    if wrap == "extended":
        content = {"extendedTextMessage": {"text": text}}
    elif wrap == "ephemeral":
        content = {"ephemeralMessage": {"message": {"extendedTextMessage": {"text": text}}}}
    key = {"remoteJid": jid, "id": message_id, "fromMe": from_me}
    if jid.endswith("@g.us"):
        key["participant"] = participant
    return {"key": key, "pushName": push_name, "messageTimestamp": seconds, "message": content}


def phone(jid: str) -> str:
    """The sender the collector sends for a member's JID: ``+<digits>``."""
    return "+" + jid.split("@", 1)[0]


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=dt_timezone.utc)


class Driver:
    """Runs the collector with the fake WhatsApp socket in a folder of its own (auth state and spool
    inside it), one ``run`` per collector start."""

    def __init__(self, folder: Path, *, client_id: str, logs: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.client_id = client_id
        self.logs = logs
        self.spool = folder / "spool"
        self.runs = 0

    def run(self, script: dict, *, ingest_url: str, timeout: float = 120) -> tuple[int, dict, str]:
        """Start the collector on ``script``; its exit code, final metrics and output (for messages)."""
        binary = node()
        self.runs += 1
        script_path = self.folder / f"script-{self.runs}.json"
        script_path.write_text(json.dumps(script))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.folder),
            "WHATSAPP_INGEST_URL": ingest_url,
            "WHATSAPP_INGEST_TOKEN": TOKEN,
            "WHATSAPP_INGEST_HMAC_SECRET": SECRET,
            "CLIENT_ID": self.client_id,
            "BATCH_MAX_MESSAGES": "2",
            "BATCH_FLUSH_INTERVAL_MS": "200",
            "PORT": "0",
            "STATUS_HOST": "127.0.0.1",
            "AUTH_STATE_DIR": str(self.folder / "auth-state"),
            "SPOOL_DIR": str(self.spool),
            "LOG_LEVEL": "info",
        }
        result = subprocess.run([binary, str(DRIVER), str(script_path)], cwd=self.folder, env=env,
                                capture_output=True, text=True, timeout=timeout)
        output = f"exit {result.returncode}\n--- stdout\n{result.stdout[-20000:]}\n--- stderr\n{result.stderr[-3000:]}"
        (self.logs / f"collector-{self.client_id}-{self.runs}.log").write_text(output)
        metrics = {}
        for line in reversed(result.stdout.splitlines()):  # pino's log lines share stdout; the metrics come last
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "messages_sent" in parsed and "batches_success" in parsed:
                metrics = parsed
                break
        assert metrics, f"the collector printed no metrics:\n{output}"
        return result.returncode, metrics, output

    def pending(self) -> list[Path]:
        """The batch files waiting in the spool."""
        folder = self.spool / "pending"
        return sorted(folder.glob("*.json")) if folder.is_dir() else []


def server_env(live, **overrides) -> dict:
    return live.env(WHATSAPP_INGEST_TOKEN=TOKEN, WHATSAPP_INGEST_HMAC_SECRET=SECRET, **overrides)


# --------------------------------------------------------------------------- tests


def test_the_collectors_batches_land_in_the_ingest_and_become_offers(live, tmp_path, capsys):
    from offers.models import Offer, Vendor
    from whatsapp.models import Chat, Message

    node()
    # Group A is mapped beforehand (as an operator would on its chat page); group B is not.
    mapped = Vendor.objects.create(name="Mario Phones Ltd", default_currency="USD")
    Chat.objects.create(external_id=GROUP_A, title="Mario (old name)", vendor=mapped, is_group=True)

    base = int(time.time()) - 3600
    a1 = wa_message(GROUP_A, "A1", "iPhone 15 128GB - $650\nGalaxy S24 256GB - $700", seconds=base)
    own = wa_message(GROUP_A, "OWN1", "Pixel 7 - $400", seconds=base + 30, from_me=True)
    a2 = wa_message(GROUP_A, "A2", "Pixel 8 Pro - $750", seconds=base + 60, wrap="ephemeral")
    b1 = wa_message(GROUP_B, "B1", "Pixel 9 - $850", seconds=base + 90, participant=LINA, push_name="Lina")
    direct = wa_message(DIRECT, "D1", "Pixel 6 - $300", seconds=base + 100)
    b2 = wa_message(GROUP_B, "B2", "Galaxy S24 256GB - $700", seconds=base + 120, participant=LINA,
                    push_name="Lina", wrap="extended")
    a3 = wa_message(GROUP_A, "A3", "Pixel 9 - $850", seconds=base + 150, participant=SAM, push_name="Sam")
    group_messages = [a1, a2, b1, b2, a3]
    script = {
        "groups": {GROUP_A: "Mario Phones Deals", GROUP_B: "Tech Traders Group"},
        "upserts": [{"type": "notify", "messages": [a1, own, a2]},
                    {"type": "append", "messages": [b1, direct, b2]},
                    {"type": "notify", "messages": [a3]}],
        "expect_sent": len(group_messages),
        "timeout_ms": 60_000,
    }

    env = server_env(live, WHATSAPP_EXTRACT_DEBOUNCE_SECONDS="1", Q_WORKERS="2")
    started = time.monotonic()
    with servers.start_gunicorn(env, log_dir=live.logs, workers=2, lifetime=240) as web, \
            servers.start_qcluster(env, log_dir=live.logs, lifetime=240) as cluster:
        driver = Driver(tmp_path / "collector", client_id="collector-live", logs=live.logs)
        code, metrics, output = driver.run(script, ingest_url=web.url + INGEST_PATH)
        delivered = time.monotonic()
        assert code == 0, f"{output}\n--- gunicorn\n{web.log()[-3000:]}"
        assert metrics["messages_received"] == len(group_messages), output
        assert metrics["messages_sent"] == len(group_messages), output
        assert metrics["batches_success"] >= 2, output
        assert (metrics["batches_failed"], metrics["batches_rejected"], metrics["messages_dropped"]) == (0, 0, 0), output
        assert metrics["spool_depth"] == 0 and driver.pending() == [], output

        # The messages, as stored: chat (the group's jid and subject), sender, id, time; nothing else.
        stored = {message.external_id: message for message in Message.objects.select_related("chat")}
        assert set(stored) == {"A1", "A2", "B1", "B2", "A3"}, sorted(stored)
        for raw in group_messages:
            message = stored[raw["key"]["id"]]
            assert message.chat.external_id == raw["key"]["remoteJid"]
            assert message.sender == phone(raw["key"]["participant"])
            assert message.sent_at == utc(raw["messageTimestamp"])
            assert message.client_id == "collector-live"
        assert stored["A1"].text == "iPhone 15 128GB - $650\nGalaxy S24 256GB - $700"
        assert stored["A2"].text == "Pixel 8 Pro - $750"  # unwrapped from the ephemeral wrapper
        assert stored["B2"].text == "Galaxy S24 256GB - $700"
        chats = {chat.external_id: chat for chat in Chat.objects.all()}
        assert set(chats) == {GROUP_A, GROUP_B}  # no direct chat
        assert chats[GROUP_A].title == "Mario Phones Deals" and chats[GROUP_A].vendor_id == mapped.pk
        assert chats[GROUP_B].title == "Tech Traders Group" and chats[GROUP_B].is_group
        assert not Message.objects.filter(text__in=["Pixel 7 - $400", "Pixel 6 - $300"]).exists()

        # The qcluster extracts both chats once their debounce has passed.
        try:
            wait_for(lambda: not Message.objects.filter(extraction_state="pending").exists(), timeout=90,
                     what="the collector's messages to be extracted", every=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; qcluster:\n{cluster.log()[-3000:]}") from None
        extracted = time.monotonic()
        states = dict(Message.objects.values_list("external_id", "extraction_state"))
        assert set(states.values()) == {"extracted"}, states

        offers = list(Offer.all_objects.select_related("vendor", "source_message", "product"))
        by_message: dict[str, list] = {}
        for offer in offers:
            by_message.setdefault(offer.source_message.external_id, []).append(offer)
        assert {key: len(value) for key, value in by_message.items()} == {"A1": 2, "A2": 1, "B1": 1, "B2": 1, "A3": 1}
        iphone = next(offer for offer in by_message["A1"] if "iPhone 15" in offer.description)
        assert (iphone.price, iphone.currency) == (Decimal("650.00"), "USD")
        assert iphone.vendor == mapped and iphone.observed_at == utc(a1["messageTimestamp"])
        assert "iphone 15" in iphone.product.name.lower()
        pixel = by_message["A2"][0]
        assert "Pixel 8 Pro" in pixel.description and pixel.price == Decimal("750.00")
        assert {offer.vendor_id for key in ("A1", "A2", "A3") for offer in by_message[key]} == {mapped.pk}
        chats[GROUP_B].refresh_from_db()
        provisional = chats[GROUP_B].provisional_vendor
        assert provisional is not None and provisional.is_provisional
        assert provisional.name == "Tech Traders Group (WhatsApp)"
        b_offers = by_message["B1"] + by_message["B2"]
        assert {offer.vendor_id for offer in b_offers} == {provisional.pk}
        assert sorted(offer.price for offer in b_offers) == [Decimal("700.00"), Decimal("850.00")]
    with capsys.disabled():
        print(f"\n[collector live, {live.kind}] servers up + collector run {delivered - started:.1f} s; "
              f"delivered -> extracted {extracted - delivered:.1f} s; {metrics['batches_success']} batches")


def test_batches_spooled_while_the_backend_is_down_are_delivered_after_a_restart(live, tmp_path):
    from whatsapp.models import Chat, Message

    node()
    base = int(time.time()) - 1800
    texts = ["iPhone 15 128GB - $650", "Pixel 8 Pro - $750", "Pixel 9 - $850", "Galaxy S24 256GB - $700",
             "iPhone 14 128GB - $480"]
    messages = [wa_message(GROUP_C, f"C{i}", text, seconds=base + 60 * i, participant=SAM, push_name="Sam")
                for i, text in enumerate(texts, start=1)]
    driver = Driver(tmp_path / "collector", client_id="collector-restart", logs=live.logs)

    # The backend is down: nothing listens on the URL's port. Every batch ends in the spool folder,
    # failed after its attempts or kept at shutdown.
    down = f"http://127.0.0.1:{servers.free_port()}{INGEST_PATH}"
    code, first, output = driver.run({
        "groups": {GROUP_C: "Restart Deals"},
        "upserts": [{"type": "notify", "messages": messages[:3]}, {"type": "append", "messages": messages[3:]}],
        "expect_sent": 0, "timeout_ms": 500,
    }, ingest_url=down)
    assert code == 0, output
    assert (first["messages_received"], first["messages_sent"], first["batches_success"]) == (5, 0, 0), output
    assert first["messages_dropped"] == 0 and first["batches_spooled"] >= 1, output
    # The metrics are printed after the collector's shutdown, which spools what was still queued or
    # in flight: their spool depth is what the folder holds.
    files = driver.pending()
    assert files and len(files) == first["spool_depth"], output
    spooled = [message for path in files for message in json.loads(path.read_text())["messages"]]
    # (a batch still in flight at shutdown is spooled as well, so a message may be there twice: the
    # backend dedupes it)
    assert sorted({message["message_id"] for message in spooled}) == ["C1", "C2", "C3", "C4", "C5"]

    # The backend is up; the collector starts again on the same folders, WhatsApp sends nothing new.
    with servers.start_gunicorn(server_env(live), log_dir=live.logs, workers=2, lifetime=120) as web:
        assert not Message.objects.exists()
        code, second, output = driver.run({"groups": {GROUP_C: "Restart Deals"}, "upserts": [],
                                           "expect_sent": len(spooled), "timeout_ms": 60_000},
                                          ingest_url=web.url + INGEST_PATH)
        assert code == 0, f"{output}\n--- gunicorn\n{web.log()[-3000:]}"
        assert second["batches_replayed"] >= 1 and second["batches_replayed"] == len(files), output
        assert second["messages_sent"] == len(spooled) and second["messages_received"] == 0, output
        assert (second["batches_failed"], second["batches_rejected"], second["spool_depth"]) == (0, 0, 0), output
        assert driver.pending() == [], output

        stored = {message.external_id: message for message in Message.objects.select_related("chat")}
        assert set(stored) == {"C1", "C2", "C3", "C4", "C5"}
        for raw in messages:
            message = stored[raw["key"]["id"]]
            assert message.text == raw["message"]["conversation"]
            assert message.sender == phone(SAM) and message.sent_at == utc(raw["messageTimestamp"])
            assert (message.chat.external_id, message.chat.title) == (GROUP_C, "Restart Deals")
            assert message.client_id == "collector-restart"
        assert Chat.objects.count() == 1
