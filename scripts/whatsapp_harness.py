#!/usr/bin/env python3
"""PriceHub's synthetic WhatsApp harness (playbook section 8): an outside client that posts signed
batches to ``POST /integrations/whatsapp/ingest`` like a collector, then polls
``GET /chat/tools/diagnostics`` until the pipeline has stored and extracted them.

Standard library only (Python 3.9+); it imports nothing from PriceHub and speaks HTTP only, so it
runs from any machine that reaches the server.

Commands::

    whatsapp_harness.py smoke --url URL --token TOKEN --diagnostics-url URL
        [--secret S] [--expect-created 1] [--expect-extracted 1] [--timeout 120] [--report-file F]
    whatsapp_harness.py load --url URL --token TOKEN --diagnostics-url URL
        [--count 50] [--batch-size 10] [--concurrency 4] [--slo-p95-ms 1000]
        [--slo-max-skipped-ratio 0.01] [--slo-min-extracted-ratio 0.95] [--slo-max-failed-ratio 0]
        [--expect-created N] [--expect-extracted 1] [--report-file F]

The HMAC secret comes from ``--secret`` or the ``WHATSAPP_INGEST_HMAC_SECRET`` environment
variable; without one no signature headers are sent (a server without a secret does not check
them). The token may also come from ``WHATSAPP_INGEST_TOKEN``.

Exit codes: ``0`` success; ``1`` usage error (bad arguments); ``2`` the diagnostics expectation
failed (the counters did not move enough within ``--timeout``, diagnostics unreachable or refused,
or every ingest request failed); ``3`` SLO breach(es). On any failure exactly one line starting with
``ALERT`` goes to stderr. ``--report-file`` receives a JSON report in every case.

Every run has a run id (lowercase letters only) written in each message's text, so a second run is
never deduplicated against the first, while the message still parses as a real offer: the offer is
on the first line ("Pixel 8 Pro 128GB - $750") and the run id on a second line without digits
("harness run kqzfbwpa msg bc"), which the offer extractor passes over.

See docs/observability/README.md for the report's fields and the SLO flags.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import hmac
import json
import math
import os
import random
import secrets
import string
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_EXPECTATION = 2
EXIT_SLO = 3

USER_AGENT = "pricehub-whatsapp-harness/1"
REPORT_VERSION = 1

# Offers the load messages cycle through: (model, base price in USD). Prices vary per message.
MODELS = [
    ("Pixel 8 Pro 128GB", 750),
    ("Pixel 8 256GB", 560),
    ("iPhone 15 Pro 256GB", 999),
    ("iPhone 15 128GB", 720),
    ("iPhone 14 Pro Max 512GB", 940),
    ("Galaxy S24 Ultra 512GB", 1130),
    ("Galaxy S23 FE 128GB", 420),
    ("Galaxy A54 128GB", 310),
    ("OnePlus 12 256GB", 690),
    ("Xiaomi 14 Ultra 512GB", 1050),
    ("Nothing Phone 2 256GB", 480),
    ("Moto Edge 40 256GB", 390),
]

SMOKE_TEXT = "Pixel 8 Pro - $750"  # the playbook's smoke message (section 7.5)


# --------------------------------------------------------------------------- small helpers


def new_run_id(length: int = 10) -> str:
    """A random run id of lowercase ASCII letters (no digits, so the extractor never reads it as a price)."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))


def letters(number: int) -> str:
    """``number`` (>= 0) written with letters only: 0 -> "a", 25 -> "z", 26 -> "ba" (base 26)."""
    if number < 0:
        raise ValueError("letters() takes a number >= 0")
    out = ""
    while True:
        number, digit = divmod(number, 26)
        out = string.ascii_lowercase[digit] + out
        if number == 0:
            return out


def utc_stamp(now: Optional[float] = None) -> str:
    """The signature timestamp: UTC ``YYYY-MM-DDTHH:MM:SSZ`` of ``now`` (unix seconds; default: the clock)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))


def iso(epoch: float) -> str:
    """``epoch`` (unix seconds) as ISO 8601 UTC with milliseconds and a ``Z``."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value) -> Optional[float]:
    """An ISO 8601 string (``Z`` or an offset; naive = UTC) as unix seconds; ``None`` for anything else."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        # Python < 3.11 reads only 3 or 6 fraction digits: pad or cut the fraction.
        head, dot, rest = text.partition(".")
        if not dot:
            return None
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        try:
            moment = datetime.fromisoformat(f"{head}.{(digits + '000000')[:6]}{zone}")
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ingest signature: lowercase hex HMAC-SHA256 keyed with ``secret`` (UTF-8) over
    ``timestamp + "." + body`` (docs/whatsapp-ingest.md, "Signing")."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + b"." + body, hashlib.sha256).hexdigest()


def ingest_headers(token: str, secret: Optional[str], body: bytes, now: Optional[float] = None) -> Dict[str, str]:
    """The headers of one ingest request: JSON, ``X-Ingest-Token`` and, with a ``secret``, a fresh
    ``X-Signature``/``X-Signature-Timestamp`` pair over ``body`` (the exact bytes sent)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT,
               "X-Ingest-Token": token}
    if secret:
        stamp = utc_stamp(now)
        headers["X-Signature"] = sign(secret, stamp, body)
        headers["X-Signature-Timestamp"] = stamp
    return headers


def percentile(values: List[float], q: float) -> Optional[float]:
    """The ``q``-th percentile (0..100) of ``values`` by linear interpolation between closest ranks
    (numpy's default); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: List[float], digits: int = 3) -> Dict[str, Optional[float]]:
    """``{"p50", "p95", "max", "mean", "samples"}`` of ``values`` (``None`` figures when empty)."""
    def rounded(x):
        return None if x is None else round(x, digits)
    return {"p50": rounded(percentile(values, 50)), "p95": rounded(percentile(values, 95)),
            "max": rounded(max(values) if values else None),
            "mean": rounded(sum(values) / len(values) if values else None), "samples": len(values)}


def ratio(part: float, whole: float) -> Optional[float]:
    """``part / whole`` rounded to 4 places, ``None`` when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


# --------------------------------------------------------------------------- HTTP


class HttpAnswer:
    """One HTTP exchange: ``status`` (``None`` when no answer came), ``headers``, ``data`` (the JSON
    body, or ``None``), ``text`` (the body's start when it was not JSON), ``error`` (a one-line reason
    when the request failed at the network level), ``sent_at`` (unix seconds) and ``seconds``."""

    def __init__(self, status, headers, data, text, error, sent_at, seconds):
        self.status, self.headers, self.data, self.text = status, headers, data, text
        self.error, self.sent_at, self.seconds = error, sent_at, seconds

    def describe(self) -> str:
        """A short reason for a failed exchange: the network error, or the status and ``detail``."""
        if self.status is None:
            return self.error or "no answer"
        detail = self.data.get("detail") if isinstance(self.data, dict) else None
        if detail:
            return f"HTTP {self.status} {detail}"
        if self.text and self.text.lstrip()[:1] == "<":
            return f"HTTP {self.status} (an HTML page, not PriceHub's JSON: is the URL right?)"
        return f"HTTP {self.status}" + (f" {self.text[:120]!r}" if self.text else "")


def http_request(method: str, url: str, *, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None,
                 timeout: float = 30.0) -> HttpAnswer:
    """One request; never raises for network errors or non-2xx statuses (see ``HttpAnswer``)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    sent_at, start = time.time(), time.perf_counter()
    status, response_headers, raw, error = None, {}, b"", None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, response_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, response_headers = exc.code, dict(exc.headers or {})
        try:
            raw = exc.read()
        except OSError:
            raw = b""
    except urllib.error.URLError as exc:
        error = f"cannot reach {url}: {exc.reason}"
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed URL
        error = f"cannot reach {url}: {exc.__class__.__name__}: {exc}"
    seconds = time.perf_counter() - start
    data, text = None, ""
    if raw:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            text = raw[:300].decode("utf-8", "replace")
    return HttpAnswer(status, response_headers, data, text, error, sent_at, seconds)


def retry_after_seconds(headers: Dict[str, str]) -> Optional[float]:
    """``Retry-After`` in seconds (whole seconds form only), ``None`` when absent or unreadable."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value.strip()))
            except ValueError:
                return None
    return None


def post_batch(url: str, token: str, secret: Optional[str], batch: dict, *, timeout: float, max_retries: int,
               max_retry_after: float, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Post ``batch`` (serialized once; signed afresh at each attempt) and retry a ``429`` or ``503``
    up to ``max_retries`` times, after its ``Retry-After`` (at most ``max_retry_after`` s; 1 s when
    absent). Returns the batch's record: ``attempts`` (status, request id, latency, retry-after,
    error each), ``status`` (the last attempt's, ``None`` for a network error), ``ok`` (2xx),
    ``answer`` (the last JSON answer), ``sent_at`` (unix seconds of the last attempt)."""
    body = json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    attempts = []
    answer = None
    for attempt in range(max_retries + 1):
        answer = http_request("POST", url, body=body, headers=ingest_headers(token, secret, body), timeout=timeout)
        wait = retry_after_seconds(answer.headers) if answer.status in (429, 503) else None
        attempts.append({
            "status": answer.status,
            "request_id": answer.data.get("request_id") if isinstance(answer.data, dict) else None,
            "latency_ms": round(answer.seconds * 1000, 2),
            "sent_at": iso(answer.sent_at),
            "retry_after": wait,
            "error": None if answer.status is not None and 200 <= answer.status < 300 else answer.describe(),
        })
        if answer.status in (429, 503) and attempt < max_retries:
            sleep(min(max_retry_after, 1.0 if wait is None else wait))
            continue
        break
    ok = answer.status is not None and 200 <= answer.status < 300
    return {"attempts": attempts, "status": answer.status, "ok": ok,
            "answer": answer.data if isinstance(answer.data, dict) else None,
            "sent_at": answer.sent_at, "messages": len(batch.get("messages", []))}


# --------------------------------------------------------------------------- diagnostics


def read_diagnostics(url: str, token: str, timeout: float = 30.0):
    """``(diagnostics JSON, None)`` or ``(None, reason)``: ``GET url`` with ``X-Ingest-Token``; the
    answer must be a 200 JSON object with a ``totals`` object."""
    answer = http_request("GET", url, headers={"X-Ingest-Token": token, "Accept": "application/json",
                                               "User-Agent": USER_AGENT}, timeout=timeout)
    if answer.status != 200:
        return None, f"diagnostics {answer.describe()}"
    if not isinstance(answer.data, dict) or not isinstance(answer.data.get("totals"), dict):
        return None, "diagnostics answered 200 without a JSON object holding 'totals'"
    return answer.data, None


def counter(snapshot: Optional[dict], name: str) -> int:
    """``snapshot["totals"][name]`` as an int (0 when missing or not a number)."""
    value = (snapshot or {}).get("totals", {}).get(name)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


COUNTERS = ("messages", "pending", "extracted", "errors", "offers", "accepted", "created", "deduped",
            "media_failed", "auth_failures", "forbidden", "rate_limited", "signature_failures")


def totals_of(snapshot: Optional[dict]) -> Dict[str, int]:
    """The harness's counters of a diagnostics answer (``COUNTERS``)."""
    return {name: counter(snapshot, name) for name in COUNTERS}


def poll(url: str, token: str, done: Callable[[dict], bool], *, timeout: float, interval: float,
         request_timeout: float = 30.0, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep):
    """Read diagnostics every ``interval`` s until ``done(snapshot)`` or ``timeout`` s have passed
    (each read may take ``request_timeout`` s).
    Returns ``(last snapshot or None, polls, seconds waited, satisfied, last error or None)``; a
    failed read is retried until the timeout (the last reason is returned)."""
    start = clock()
    polls, snapshot, error = 0, None, None
    while True:
        current, problem = read_diagnostics(url, token, timeout=request_timeout)
        polls += 1
        if current is not None:
            snapshot, error = current, None
            if done(current):
                return snapshot, polls, clock() - start, True, None
        else:
            error = problem
        if clock() - start + interval > timeout:
            return snapshot, polls, clock() - start, False, error
        sleep(interval)


# --------------------------------------------------------------------------- batches


def smoke_batch(run_id: str, client_id: str, chat_title: str) -> dict:
    """The playbook's smoke batch (section 7.5) with the run id on the message's second line."""
    return {"client_id": client_id, "messages": [{
        "chat_title": chat_title, "text": f"{SMOKE_TEXT}\nharness run {run_id}",
        "message_id": f"harness-{run_id}-smoke", "sender": "PriceHub harness"}]}


def load_batch(run_id: str, index: int, size: int, *, client_id: str, rng: random.Random) -> dict:
    """Batch ``index`` of a load run: ``size`` messages in a chat of its own ("Harness <run> batch
    <letters>"), each a different model at a varied price, unique by run id and position."""
    chat = f"Harness {run_id} batch {letters(index)}"
    messages = []
    for position in range(size):
        model, base = MODELS[(index * size + position) % len(MODELS)]
        price = base + rng.randrange(-40, 41)
        messages.append({
            "chat_title": chat,
            "text": f"{model} - ${price}\nharness run {run_id} batch {letters(index)} msg {letters(position)}",
            "message_id": f"harness-{run_id}-{index}-{position}",
            "sender": "PriceHub harness",
        })
    return {"client_id": client_id, "messages": messages}


# --------------------------------------------------------------------------- reports


def answer_sum(records: List[dict], name: str) -> int:
    """The sum of ``name`` over the 2xx answers of ``records``."""
    total = 0
    for record in records:
        value = (record.get("answer") or {}).get(name) if record["ok"] else None
        if isinstance(value, int) and not isinstance(value, bool):
            total += value
    return total


def our_chat_ids(records: List[dict]) -> Dict[int, dict]:
    """``{chat_id: record}``: PriceHub's chat id of each answered batch (from the answer's ``chats``)."""
    found = {}
    for record in records:
        for chat in (record.get("answer") or {}).get("chats") or []:
            if isinstance(chat, dict) and isinstance(chat.get("chat_id"), int):
                found[chat["chat_id"]] = record
    return found


def chats_in(snapshot: Optional[dict], ids) -> Dict[int, dict]:
    """The entries of ``snapshot["chats"]`` whose ``chat_id`` is in ``ids``."""
    wanted = set(ids)
    return {chat["chat_id"]: chat for chat in (snapshot or {}).get("chats") or []
            if isinstance(chat, dict) and chat.get("chat_id") in wanted}


def public_record(record: dict, index: int) -> dict:
    """A batch record as written in the report (no message texts, no credentials)."""
    answer = record.get("answer") or {}
    return {
        "batch": index,
        "client_id": record.get("client_id"),
        "chat_title": record.get("chat_title"),
        "messages": record["messages"],
        "status": record["status"],
        "ok": record["ok"],
        "request_id": record["attempts"][-1]["request_id"],
        "attempts": record["attempts"],
        "latency_ms": record["attempts"][-1]["latency_ms"],
        "sent_at": iso(record["sent_at"]),
        **{name: answer.get(name) for name in ("accepted", "created", "edited", "deduped", "skipped")},
        "chat_ids": [chat.get("chat_id") for chat in answer.get("chats") or [] if isinstance(chat, dict)],
    }


def status_counts(records: List[dict]) -> Dict[str, int]:
    """``{"200": n, "429": n, "error": n}`` over every attempt ("error": no HTTP answer)."""
    counts: Dict[str, int] = {}
    for record in records:
        for attempt in record["attempts"]:
            key = "error" if attempt["status"] is None else str(attempt["status"])
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def write_report(path: Optional[str], report: dict) -> Optional[str]:
    """Write ``report`` as JSON to ``path`` (folders created); returns a reason when it could not."""
    if not path:
        return None
    try:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2, sort_keys=False)
            out.write("\n")
    except OSError as exc:
        return f"cannot write the report to {path}: {exc}"
    return None


def finish(args, report: dict, expectation_failures: List[str], breaches: List[str]) -> int:
    """Set the verdict, write the report, print the summary (stdout) and the ``ALERT`` line
    (stderr) and return the exit code: 2 when an expectation failed (it wins), else 3 on SLO
    breaches, else 0."""
    if expectation_failures:
        code, verdict = EXIT_EXPECTATION, "expectation_failed"
    elif breaches:
        code, verdict = EXIT_SLO, "slo_breach"
    else:
        code, verdict = EXIT_OK, "ok"
    report["finished_at"] = iso(time.time())
    report["verdict"] = verdict
    report["exit_code"] = code
    report["failures"] = expectation_failures
    report["slo"]["breaches"] = breaches
    alert = None
    if code:
        reasons = "; ".join(expectation_failures + (["SLO breach: " + ", ".join(breaches)] if breaches else []))
        where = f" (report: {args.report_file})" if args.report_file else ""
        alert = f"ALERT whatsapp-harness {args.command} run {report['run_id']}: {reasons}{where}"
        alert = " ".join(alert.split())  # one line, whatever the reasons held
    report["alert"] = alert
    problem = write_report(args.report_file, report)
    print(f"whatsapp-harness {args.command} run {report['run_id']}: {verdict} (exit {code})")
    for key in ("ingest", "diagnostics_delta", "latency_ms", "ingest_to_offer_seconds", "ratios"):
        if key in report:
            print(f"  {key}: {json.dumps(report[key], sort_keys=True)}")
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    elif args.report_file:
        print(f"  report: {args.report_file}")
    if alert:
        print(alert, file=sys.stderr)
    return code


def base_report(args, run_id: str) -> dict:
    """The report's common head: mode, run id, targets (no credentials) and parameters."""
    return {
        "harness": "whatsapp_harness", "report_version": REPORT_VERSION, "mode": args.command, "run_id": run_id,
        "started_at": iso(time.time()),
        "target": {"url": args.url, "diagnostics_url": args.diagnostics_url, "signed": bool(args.secret)},
        "parameters": {name: getattr(args, name) for name in (
            "timeout", "poll_interval", "request_timeout", "max_retries", "max_retry_after", "client_id",
            "count", "batch_size", "concurrency") if hasattr(args, name)},
        "slo": {"thresholds": {}, "breaches": []},
    }


# --------------------------------------------------------------------------- smoke


def run_smoke(args) -> int:
    """The signed smoke test: read the diagnostics baseline, post one batch (the playbook's message
    and the run id), poll until ``totals.created`` moved by ``--expect-created`` and
    ``totals.extracted`` by ``--expect-extracted`` and, when an extraction is expected, the smoke
    chat has no pending message left (its own message was extracted: other traffic moves the
    totals too). Returns the exit code (0 or 2)."""
    run_id = args.run_id or new_run_id()
    report = base_report(args, run_id)
    report["expectations"] = {"created": args.expect_created, "extracted": args.expect_extracted}
    before, problem = read_diagnostics(args.diagnostics_url, args.token, timeout=args.request_timeout)
    if before is None:
        report["diagnostics"] = {"error": problem}
        return finish(args, report, [f"cannot read the diagnostics baseline: {problem}"], [])
    base = totals_of(before)
    batch = smoke_batch(run_id, args.client_id, args.chat_title)
    record = post_batch(args.url, args.token, args.secret, batch, timeout=args.request_timeout,
                        max_retries=args.max_retries, max_retry_after=args.max_retry_after)
    record.update(client_id=args.client_id, chat_title=args.chat_title)
    report["requests"] = [public_record(record, 0)]
    report["ingest"] = {"status": record["status"], "request_id": record["attempts"][-1]["request_id"],
                        "latency_ms": record["attempts"][-1]["latency_ms"],
                        **{name: (record["answer"] or {}).get(name) for name in ("accepted", "created", "deduped",
                                                                               "skipped")}}
    if not record["ok"]:
        report["diagnostics"] = {"before": base}
        return finish(args, report, [f"ingest failed: {record['attempts'][-1]['error']}"], [])

    mine = our_chat_ids([record])

    def moved(snapshot):
        now = totals_of(snapshot)
        if (now["created"] - base["created"] < args.expect_created
                or now["extracted"] - base["extracted"] < args.expect_extracted):
            return False
        if args.expect_extracted:  # and our own message was extracted: other traffic moves the totals too
            return all(not chat.get("pending") for chat in chats_in(snapshot, mine).values())
        return True

    after, polls, waited, satisfied, error = poll(args.diagnostics_url, args.token, moved, timeout=args.timeout,
                                                  interval=args.poll_interval,
                                                  request_timeout=args.request_timeout)
    final = totals_of(after) if after is not None else None
    delta = {name: final[name] - base[name] for name in COUNTERS} if final else None
    report["diagnostics"] = {"before": base, "after": final, "polls": polls, "waited_seconds": round(waited, 3),
                             "lag_seconds": (after or {}).get("lag_seconds"), "error": error}
    report["diagnostics_delta"] = delta
    failures = []
    if not satisfied:
        if delta is None:
            failures.append(f"diagnostics unreadable for {args.timeout:g} s: {error}")
        else:
            waiting = {chat_id: chat.get("pending") for chat_id, chat in chats_in(after, mine).items()
                       if chat.get("pending")}
            failures.append(
                f"within {args.timeout:g} s totals.created moved by {delta['created']} (expected >= "
                f"{args.expect_created}) and totals.extracted by {delta['extracted']} (expected >= "
                f"{args.expect_extracted})"
                + (f"; the smoke chat still has pending messages ({waiting})" if waiting else "")
                + (f"; last diagnostics error: {error}" if error else ""))
    return finish(args, report, failures, [])


# --------------------------------------------------------------------------- load


def run_load(args) -> int:
    """The load run: ``--count`` batches of ``--batch-size`` messages from ``--concurrency`` threads
    (batch i is sent by client ``<client-id>-<i % concurrency>``, in chat "Harness <run> batch i"),
    then poll diagnostics until the expected counters moved and the run's chats have nothing
    pending, then compute the figures and check the SLOs. Returns the exit code (0, 2 or 3)."""
    run_id = args.run_id or new_run_id()
    report = base_report(args, run_id)
    thresholds = {"p95_ms": args.slo_p95_ms, "max_skipped_ratio": args.slo_max_skipped_ratio,
                  "min_extracted_ratio": args.slo_min_extracted_ratio, "max_failed_ratio": args.slo_max_failed_ratio}
    report["slo"]["thresholds"] = thresholds
    before, problem = read_diagnostics(args.diagnostics_url, args.token, timeout=args.request_timeout)
    if before is None:
        report["diagnostics"] = {"error": problem}
        return finish(args, report, [f"cannot read the diagnostics baseline: {problem}"], [])
    base = totals_of(before)

    rng = random.Random(run_id)
    batches = []
    for index in range(args.count):
        client = f"{args.client_id}-{index % args.concurrency}"
        batches.append((index, client, load_batch(run_id, index, args.batch_size, client_id=client, rng=rng)))

    def send(item):
        index, client, batch = item
        record = post_batch(args.url, args.token, args.secret, batch, timeout=args.request_timeout,
                            max_retries=args.max_retries, max_retry_after=args.max_retry_after)
        record.update(client_id=client, chat_title=batch["messages"][0]["chat_title"] if batch["messages"] else "")
        return index, record

    started = time.perf_counter()
    records: List[Optional[dict]] = [None] * len(batches)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        for index, record in pool.map(send, batches):
            records[index] = record
    send_seconds = time.perf_counter() - started
    done_records = [r for r in records if r is not None]

    ok = [r for r in done_records if r["ok"]]
    attempts = [a for r in done_records for a in r["attempts"]]
    statuses = status_counts(done_records)
    sums = {name: answer_sum(done_records, name) for name in ("accepted", "created", "edited", "deduped", "skipped")}
    messages_sent = sum(r["messages"] for r in done_records)
    messages_answered = sum(r["messages"] for r in ok)
    report["requests"] = [public_record(r, i) for i, r in enumerate(done_records)]
    report["ingest"] = {
        "batches": len(done_records), "batches_ok": len(ok), "batches_failed": len(done_records) - len(ok),
        "attempts": len(attempts), "statuses": statuses, "rate_limited": sum(1 for a in attempts if a["status"] == 429),
        "messages_sent": messages_sent, "messages_answered": messages_answered, **sums,
        "send_seconds": round(send_seconds, 3),
        "batches_per_second": round(len(done_records) / send_seconds, 2) if send_seconds else None,
    }
    report["latency_ms"] = summary([a["latency_ms"] for r in ok for a in r["attempts"][-1:]], digits=2)
    report["latency_ms"]["of"] = "the 2xx answers' request latency (a retried batch: its last attempt)"

    failures: List[str] = []
    if not ok:
        reasons = sorted({r["attempts"][-1]["error"] or "?" for r in done_records})
        report["diagnostics"] = {"before": base}
        return finish(args, report, ["every ingest request failed: " + "; ".join(reasons[:3])], [])

    expect_created = sums["created"] if args.expect_created is None else args.expect_created
    expect_extracted = args.expect_extracted
    report["expectations"] = {"created": expect_created, "extracted": expect_extracted}
    mine = our_chat_ids(ok)

    def settled(snapshot) -> bool:
        now = totals_of(snapshot)
        if now["created"] - base["created"] < expect_created or now["extracted"] - base["extracted"] < expect_extracted:
            return False
        listed = chats_in(snapshot, mine)
        if mine and len(listed) == len(mine):  # every chat of the run is listed: nothing of ours pending
            return all(not chat.get("pending") for chat in listed.values())
        # Fallback (chats not listed): every message created by the run extracted or failed, by totals.
        return (now["extracted"] - base["extracted"]) + (now["errors"] - base["errors"]) >= sums["created"]

    after, polls, waited, satisfied, error = poll(args.diagnostics_url, args.token, settled, timeout=args.timeout,
                                                  interval=args.poll_interval,
                                                  request_timeout=args.request_timeout)
    final = totals_of(after) if after is not None else None
    delta = {name: final[name] - base[name] for name in COUNTERS} if final else None
    report["diagnostics"] = {"before": base, "after": final, "polls": polls, "waited_seconds": round(waited, 3),
                             "settled": satisfied, "lag_seconds": (after or {}).get("lag_seconds"), "error": error}
    report["diagnostics_delta"] = delta
    if delta is None:
        return finish(args, report, [f"diagnostics unreadable for {args.timeout:g} s: {error}"], [])
    if delta["created"] < expect_created or delta["extracted"] < expect_extracted:
        failures.append(f"within {args.timeout:g} s totals.created moved by {delta['created']} (expected >= "
                        f"{expect_created}) and totals.extracted by {delta['extracted']} (expected >= "
                        f"{expect_extracted})" + (f"; last diagnostics error: {error}" if error else ""))

    # The run's own chats, when diagnostics lists them all: exact figures, unmoved by other traffic.
    listed = chats_in(after, mine)
    per_chat = bool(mine) and len(listed) == len(mine)
    latencies = []
    if per_chat:
        extracted = sum(int(chat.get("extracted") or 0) for chat in listed.values())
        offers = sum(int(chat.get("offers") or 0) for chat in listed.values())
        errors = sum(int(chat.get("errors") or 0) for chat in listed.values())
        for chat_id, chat in listed.items():
            done_at = parse_iso(chat.get("last_extracted_at"))
            if done_at is not None:
                latencies.append(max(0.0, done_at - mine[chat_id]["sent_at"]))
        source = "per chat (the run's chats in diagnostics 'chats')"
    else:
        extracted, offers, errors = delta["extracted"], delta["offers"], delta["errors"]
        source = "diagnostics totals' deltas (the run's chats were not all listed; other traffic may count)"
    report["ingest_to_offer_seconds"] = {
        **summary(latencies),
        "method": ("per batch: its chat's last_extracted_at (server clock) minus the moment the harness sent the "
                   "batch (this machine's clock; skew between the two counts). Each batch has a chat of its own, so "
                   "that chat's extraction time is the batch's."),
        "server_lag_seconds": (after or {}).get("lag_seconds"),
        "server_lag_method": ("diagnostics lag_seconds: extracted_at - received_at of every message extracted in the "
                              "last hour (this run's and any other traffic's), server clock only"),
    }
    report["ratios"] = {
        "source": source,
        "dedupe_ratio": ratio(sums["deduped"], sums["accepted"]),
        "skipped_ratio": ratio(sums["skipped"], messages_answered),
        "extracted_ratio": ratio(extracted, sums["created"]),
        "error_ratio": ratio(errors, sums["created"]),
        "offers_per_created": ratio(offers, sums["created"]),
        "failed_batch_ratio": ratio(len(done_records) - len(ok), len(done_records)),
        "extracted": extracted, "errors": errors, "offers": offers,
    }

    breaches = []
    p95 = report["latency_ms"]["p95"]
    if p95 is not None and p95 > args.slo_p95_ms:
        breaches.append(f"p95 request latency {p95:g} ms > {args.slo_p95_ms:g} ms")
    skipped = report["ratios"]["skipped_ratio"] or 0.0
    if skipped > args.slo_max_skipped_ratio:
        breaches.append(f"skipped ratio {skipped:g} > {args.slo_max_skipped_ratio:g}")
    extracted_ratio = report["ratios"]["extracted_ratio"]
    if extracted_ratio is not None and extracted_ratio < args.slo_min_extracted_ratio:
        breaches.append(f"extracted ratio {extracted_ratio:g} < {args.slo_min_extracted_ratio:g}")
    failed = report["ratios"]["failed_batch_ratio"] or 0.0
    if failed > args.slo_max_failed_ratio:
        breaches.append(f"failed batch ratio {failed:g} > {args.slo_max_failed_ratio:g} (statuses {statuses})")
    return finish(args, report, failures, breaches)


# --------------------------------------------------------------------------- command line


class UsageError(Exception):
    """Bad command-line arguments (exit 1)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises ``UsageError`` (exit 1 with an ALERT line) rather than
    exiting 2, which the harness keeps for "diagnostics expectation failed"."""

    def error(self, message):
        raise UsageError(message)


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def non_negative(kind):
    """An argparse type: a number of ``kind`` >= 0."""
    def convert(text):
        value = kind(text)
        if value < 0 or (isinstance(value, float) and math.isnan(value)):
            raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
        return value
    return convert


def build_parser() -> Parser:
    """The command line (see the module docstring and docs/observability/README.md)."""
    parser = Parser(prog="whatsapp_harness.py", description="PriceHub's synthetic WhatsApp ingest harness "
                    "(playbook section 8). Exit codes: 0 ok, 1 usage, 2 diagnostics expectation failed, 3 SLO breach.")
    commands = parser.add_subparsers(dest="command", parser_class=Parser)
    for name, help_text in (("smoke", "one signed batch, then wait for created/extracted to move"),
                            ("load", "many batches, latency and ratios checked against the SLOs")):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--url", required=True, help="the ingest URL (…/integrations/whatsapp/ingest)")
        sub.add_argument("--token", default=os.environ.get("WHATSAPP_INGEST_TOKEN"),
                         help="X-Ingest-Token (default: $WHATSAPP_INGEST_TOKEN)")
        sub.add_argument("--secret", default=os.environ.get("WHATSAPP_INGEST_HMAC_SECRET"),
                         help="the HMAC secret (default: $WHATSAPP_INGEST_HMAC_SECRET; none: no signature headers)")
        sub.add_argument("--diagnostics-url", required=True, help="…/chat/tools/diagnostics (polled with the token)")
        sub.add_argument("--report-file", help="write the JSON report here (folders are created)")
        sub.add_argument("--timeout", type=non_negative(float), default=120.0,
                         help="seconds to wait for the diagnostics counters (default 120)")
        sub.add_argument("--poll-interval", type=non_negative(float), default=1.5,
                         help="seconds between diagnostics reads (default 1.5)")
        sub.add_argument("--request-timeout", type=non_negative(float), default=30.0,
                         help="seconds one HTTP request may take (default 30)")
        sub.add_argument("--max-retries", type=non_negative(int), default=5,
                         help="retries of a batch answered 429 or 503, after its Retry-After (default 5; 0: none)")
        sub.add_argument("--max-retry-after", type=non_negative(float), default=60.0,
                         help="the longest Retry-After honoured, in seconds (default 60)")
        sub.add_argument("--run-id", help="the run id written in the messages (default: 10 random letters)")
        if name == "smoke":
            sub.add_argument("--expect-created", type=non_negative(int), default=1,
                             help="totals.created must move by at least this (default 1)")
            sub.add_argument("--expect-extracted", type=non_negative(int), default=1,
                             help="totals.extracted must move by at least this (default 1)")
            sub.add_argument("--client-id", default="smoke", help="the batch's client_id (default smoke)")
            sub.add_argument("--chat-title", default="Smoke Chat", help="the chat's title (default 'Smoke Chat')")
        else:
            sub.add_argument("--count", type=positive_int, default=50, help="batches to post (default 50)")
            sub.add_argument("--batch-size", type=positive_int, default=10, help="messages a batch (default 10)")
            sub.add_argument("--concurrency", type=positive_int, default=4,
                             help="parallel clients, each its own client_id (default 4)")
            sub.add_argument("--client-id", default="harness-load",
                             help="client_id prefix: client i is <prefix>-<i> (default harness-load)")
            sub.add_argument("--expect-created", type=non_negative(int), default=None,
                             help="totals.created must move by at least this (default: the created counts the "
                                  "ingest answered)")
            sub.add_argument("--expect-extracted", type=non_negative(int), default=1,
                             help="totals.extracted must move by at least this (default 1; completeness is "
                                  "the extracted-ratio SLO's)")
            sub.add_argument("--slo-p95-ms", type=non_negative(float), default=1000.0,
                             help="p95 ingest request latency, ms (default 1000)")
            sub.add_argument("--slo-max-skipped-ratio", type=non_negative(float), default=0.01,
                             help="skipped / messages answered (default 0.01)")
            sub.add_argument("--slo-min-extracted-ratio", type=non_negative(float), default=0.95,
                             help="messages extracted / messages created by the run (default 0.95)")
            sub.add_argument("--slo-max-failed-ratio", type=non_negative(float), default=0.0,
                             help="batches without a 2xx answer after retries / batches (default 0)")
    return parser


def parse_args(argv: Optional[List[str]] = None):
    """The parsed arguments; raises ``UsageError`` for bad ones."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        raise UsageError("a command is required: smoke or load")
    if not args.token:
        raise UsageError("--token (or WHATSAPP_INGEST_TOKEN) is required")
    for flag in ("url", "diagnostics_url"):
        if not getattr(args, flag).lower().startswith(("http://", "https://")):
            raise UsageError(f"--{flag.replace('_', '-')} must be an http(s) URL, not {getattr(args, flag)!r}")
    if args.run_id is not None and (not args.run_id.isascii() or not args.run_id.isalpha()):
        raise UsageError("--run-id takes ASCII letters only (a digit could be read as a price)")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run the harness; returns the exit code (0, 1, 2 or 3). Never raises for network or server errors."""
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"usage error: {exc} (see --help)", file=sys.stderr)
        print(f"ALERT whatsapp-harness: usage error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run_smoke(args) if args.command == "smoke" else run_load(args)
    except KeyboardInterrupt:
        print(f"ALERT whatsapp-harness {args.command}: interrupted", file=sys.stderr)
        return EXIT_EXPECTATION
    except Exception as exc:  # an answer of an unexpected shape: one ALERT line, not a traceback
        print(f"ALERT whatsapp-harness {args.command}: unexpected error "
              f"{' '.join(f'{exc.__class__.__name__}: {exc}'.split())}", file=sys.stderr)
        return EXIT_EXPECTATION


if __name__ == "__main__":
    sys.exit(main())
