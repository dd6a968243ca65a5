"""Speed of the WhatsApp transcript parser and the text offer extractor.

    python bench/parse_whatsapp.py [--messages 200000] [--style android|ios] [--list-share 0.05] [--whatstk] [--ingest]

Generates an export of ``--messages`` messages into a temporary directory and
prints messages per second for ``parse_transcript`` alone and for the whole
processor (parse + offer extraction). The mix: ``--list-share`` of the
messages are price lists of 5-30 product lines, 8 % single-offer posts (some
edited), the rest chit-chat (some multi-line), media placeholders, system
lines, deleted posts and polls. The default 0.05 gives about the shape of the
labelled corpus in ``tests/fixtures/chats`` (1.9 lines and 0.8 offers per
message); the bench prints the shape it generated. ``--whatstk`` also times whatstk 0.9.1 on the same file; it
is installed into its own virtualenv (``/tmp/whatstk-venv``) and run in a
subprocess, never into this project's environment.

``generate_export(path, n_messages)`` is importable, e.g. to time the whole
``ingest`` command on the same kind of file.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestion.processors.whatsapp_text import parse_transcript, processor  # noqa: E402
from ingestion.types import IngestContext  # noqa: E402

WHATSTK_VENV = Path("/tmp/whatstk-venv")
WHATSTK_VERSION = "0.9.1"

_VENDORS = ["Karim Mobiles", "Mike Wholesale NYC", "+44 7123 456789", "Sofia Tech", "CelularesMX Mayoreo", "Raj Electronics"]
_BUYERS = ["Lukas B", "Dee", "Ana López", "+31 6 12345678", "Tom Harris", "Priya"]
_PRODUCTS = [
    "iPhone 15 Pro Max 256GB", "iPhone 15 Pro 128GB", "iPhone 15 128GB Black", "iPhone 14 128GB", "iPhone 13 128GB Midnight",
    "Galaxy S24 Ultra 512GB SM-S928B", "Galaxy S24 256GB", "Galaxy A55 5G 8/128", "Pixel 8 Pro 128GB", "Pixel 7a 128GB",
    "AirPods Pro 2 USB-C", "Apple Watch Ultra 2 49mm", "iPad Air 5 64GB", "MacBook Air M2 8/256", "Xiaomi 14 12/512",
]
_PRICE_STYLES = ["- {p}", "${p}", "{p}$", "{p}usd", "USD {p}", "@ {p}", "€{p},00", "{p},00 €", "£{p}", "- {p} (x{q})",
                 "{p}$ qty {q}", "~{o}~ ${p}", "was {o} now {p}", "{p}-{r}$"]
_CHAT = ["ok thanks", "👍", "Good morning all", "how much for 20pcs?", "Do you have iPhone 15 Plus?", "deal", "sent",
         "Can you do better on 10 units?", "Call me +44 7911 123456", "yes still available", "Payment done, check pls",
         "Will collect tomorrow morning", "🙏🙏", "Price for S24 Ultra 256?"]
_MULTI_CHAT = ["Hi all\nWe are closed on Monday\nOrders by Friday 5pm please", "Thanks\n\nSee you tomorrow"]
_SYSTEM = ["Karim Mobiles added Lukas B", "Lukas B left", "+31 6 12345678 joined using this group's invite link",
           'Karim Mobiles changed the subject from "EU Traders" to "EU Traders: Daily"']


def _price_list(rng: random.Random) -> str:
    lines = [rng.choice(["*TODAY'S LIST*", "NEW SEALED", "Fresh stock 👇", "CPO grade A", "Price drop today only:"])]
    for _ in range(rng.randint(5, 30)):
        price = rng.randint(150, 1400)
        style = rng.choice(_PRICE_STYLES)
        lines.append(f"{rng.choice(['📱 ', '✅ ', '• ', ''])}{rng.choice(_PRODUCTS)} "
                     + style.format(p=price, q=rng.randint(2, 50), o=price + 50, r=price + 30))
        if rng.random() < 0.05:
            lines.append("")
    if rng.random() < 0.3:
        lines.append("Minimum order 5 pcs. DM for bigger qty")
    return "\n".join(lines)


def _body(rng: random.Random, list_share: float) -> tuple[str | None, str]:
    """(author or None for a system line, body) of one random message."""
    roll = rng.random()
    if roll < list_share:
        return rng.choice(_VENDORS), _price_list(rng)
    roll = (roll - list_share) / (1 - list_share)  # the rest of the mix keeps its proportions
    if roll < 0.04:
        return rng.choice(_VENDORS), f"{rng.choice(_PRODUCTS)} sealed - {rng.randint(150, 1400)} <This message was edited>"
    if roll < 0.08:
        return rng.choice(_VENDORS), f"{rng.choice(_PRODUCTS)} {rng.choice(_PRICE_STYLES)}".format(
            p=rng.randint(150, 1400), q=rng.randint(2, 50), o=1500, r=1450)
    if roll < 0.16:
        return rng.choice(_VENDORS + _BUYERS), "<Media omitted>"
    if roll < 0.21:
        return None, rng.choice(_SYSTEM)
    if roll < 0.23:
        return rng.choice(_BUYERS), "This message was deleted"
    if roll < 0.24:
        return rng.choice(_VENDORS), "POLL:\nPreorder Pixel 9 Pro?\nOPTION: 128GB - $799 (3 votes)\nOPTION: 256GB - $899 (1 vote)"
    if roll < 0.32:
        return rng.choice(_VENDORS + _BUYERS), rng.choice(_MULTI_CHAT)
    return rng.choice(_VENDORS + _BUYERS), rng.choice(_CHAT)


def _header(moment: datetime, style: str) -> str:
    if style == "ios":
        hour = moment.hour % 12 or 12
        return f"[{moment.month}/{moment.day}/{moment:%y}, {hour}:{moment:%M:%S}\u202f{'AM' if moment.hour < 12 else 'PM'}] "
    return f"{moment:%d/%m/%Y, %H:%M} - "


def generate_export(
    path: Path, n_messages: int, *, style: str = "android", list_share: float = 0.05, seed: int = 7
) -> Path:
    """Write a realistic WhatsApp export of ``n_messages`` messages to ``path`` (Android or iOS style)."""
    rng = random.Random(seed)
    moment = datetime(2024, 1, 2, 8, 0)
    parts = []
    for _ in range(n_messages):
        moment += timedelta(seconds=rng.randint(5, 600))
        author, body = _body(rng, list_share)
        header = _header(moment, style)
        if author is None:
            parts.append(header + ("\u200e" if style == "ios" else "") + body)
        else:
            parts.append(f"{header}{author}: {body}")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} msg/s  ({seconds:.2f} s)"


def _time_whatstk(path: Path, style: str, n_messages: int) -> None:
    python = WHATSTK_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {WHATSTK_VENV} with whatstk=={WHATSTK_VERSION} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(WHATSTK_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"whatstk=={WHATSTK_VERSION}"], check=True)
    hformat = "[%m/%d/%y, %I:%M:%S %p] %name:" if style == "ios" else "%d/%m/%Y, %H:%M - %name:"
    script = (
        "import sys, time\n"
        "from whatstk import WhatsAppChat\n"
        "hformat = sys.argv[2] or None\n"
        "start = time.perf_counter()\n"
        "chat = WhatsAppChat.from_source(filepath=sys.argv[1], hformat=hformat)\n"
        "print(len(chat.df), time.perf_counter() - start)\n"
    )
    for label, given in (("header format auto-detected", ""), ("header format given", hformat)):
        result = subprocess.run([str(python), "-c", script, str(path), given], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"whatstk {WHATSTK_VERSION} ({label}) failed:", result.stderr.strip().splitlines()[-1:])
            continue
        rows, seconds = result.stdout.split()
        print(f"whatstk {WHATSTK_VERSION}, {label} ({int(rows):,} rows): {_rate(n_messages, float(seconds))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--style", choices=("android", "ios"), default="android")
    parser.add_argument("--list-share", type=float, default=0.05, help="share of messages that are price lists")
    parser.add_argument("--whatstk", action="store_true", help="also time whatstk 0.9.1 (own venv under /tmp)")
    parser.add_argument("--ingest", action="store_true",
                        help="also time the whole `manage.py ingest` command on a fresh SQLite database")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pricehub-bench-") as directory:
        path = generate_export(Path(directory) / "chat.txt", args.messages, style=args.style, list_share=args.list_share)
        lines = path.read_text(encoding="utf-8").count("\n")
        print(f"export: {args.messages:,} messages, {lines:,} lines ({lines / args.messages:.1f} per message), "
              f"{path.stat().st_size / 1e6:.1f} MB, {args.style} style, price lists {args.list_share:.0%} of messages")

        start = time.perf_counter()
        transcript = parse_transcript(path.read_bytes().decode("utf-8-sig"), tz=timezone.utc)
        parse_seconds = time.perf_counter() - start
        assert len(transcript.messages) == args.messages, len(transcript.messages)
        print(f"parse only (read + decode + parse_transcript): {_rate(args.messages, parse_seconds)}")

        context = IngestContext(filename=path.name, timezone=timezone.utc)
        start = time.perf_counter()
        offers = sum(1 for _ in processor.process(path, context))
        total_seconds = time.perf_counter() - start
        print(f"parse + extract (processor.process):          {_rate(args.messages, total_seconds)}"
              f"  -> {offers:,} offers ({offers / args.messages:.2f} per message, "
              f"{offers / total_seconds:,.0f} offers/s)")
        if args.whatstk:
            _time_whatstk(path, args.style, args.messages)
        if args.ingest:
            _time_ingest(path, args.messages)


def _time_ingest(path: Path, n_messages: int) -> None:
    """`manage.py ingest FILE --processor whatsapp_text` (parse, extract, persist) on a fresh database."""
    import json
    import os
    import secrets

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="localhost",  # no query log
               SQLITE_PATH=str(path.with_suffix(".sqlite3")), LOG_LEVEL="WARNING",
               INGESTION_STORAGE_DIR=str(path.parent / "storage"))
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(manage + ["migrate", "--verbosity", "0"], env=env, check=True)
    start = time.perf_counter()
    out = subprocess.run(manage + ["ingest", str(path), "--processor", "whatsapp_text", "--json"], env=env,
                         check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    result = json.loads(out.stdout.splitlines()[-1])
    print(f"whole ingest command (parse, extract, persist): {_rate(n_messages, seconds)}"
          f"  -> {result['offers_created']:,} offers persisted, status {result['status']}")


if __name__ == "__main__":
    main()
