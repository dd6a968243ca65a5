"""Benchmark: what token authentication and the shared rate limit add to an API request.

    .venv/bin/python bench/api_auth_throttle.py [--db sqlite|postgres] [--requests 400]

Makes a fresh database (and its cache table), one vendor and one API token, then times
``GET /vendors/{id}`` through Django's test client in three set-ups: the rate limit counted in
the database cache (the default), counted in Redis (when one answers on 127.0.0.1:6379), and
no rate limit at all (the cost of the token lookup alone). Prints the median and 95th
percentile in milliseconds, and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from ingest_spreadsheet import django_database

    with django_database(args.db, "pricehub-throttle-", PRICEHUB_ENV_FILE="none", LOG_LEVEL="ERROR", REDIS_URL=None):
        run(args.db, args.requests)


def run(db: str, count: int) -> None:
    from tests.servers import redis_answers

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import override_settings
    from rest_framework.test import APIClient

    from offers.models import Vendor
    from pricehub.tokens import issue_token

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    vendor = Vendor.objects.create(name="Bench Vendor")
    _, key = issue_token(User.objects.create_user("bench"), name="bench", scope="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/vendors/{vendor.pk}"

    def timed() -> tuple[float, float]:
        for _ in range(20):  # warm up
            client.get(url)
        samples = []
        for _ in range(count):
            began = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.content[:300]
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]

    from pricehub.throttling import ApiRateThrottle

    counted = ApiRateThrottle.allow_request
    redis = {"CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                    "LOCATION": "redis://127.0.0.1:6379/12"}}}
    setups = {f"rate limit in the database cache ({db})": ({}, counted)}
    if redis_answers():
        setups["rate limit in Redis"] = (redis, counted)
    setups["no rate limit (token lookup only)"] = ({}, lambda self, request, view: True)
    results = {label: [] for label in setups}
    print(f"GET /vendors/{{id}} with a token, {count} requests a round, 3 alternating rounds; "
          f"load average {os.getloadavg()[0]:.2f}")
    for _ in range(3):
        for label, (overrides, allow) in setups.items():
            ApiRateThrottle.allow_request = allow
            with override_settings(**overrides):
                results[label].append(timed())
    ApiRateThrottle.allow_request = counted
    for label, rounds in results.items():
        medians = ", ".join(f"{median:5.2f}" for median, _ in rounds)
        p95s = ", ".join(f"{p95:5.2f}" for _, p95 in rounds)
        print(f"  {label:<42} median {medians} ms   p95 {p95s} ms")
    print(f"  load average after: {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
