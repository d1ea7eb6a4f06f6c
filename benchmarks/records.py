"""The durable records' costs (chat/records): on SQLite (a file, as `make run` keeps it) and PostgreSQL.

What each request that touches the records pays, measured in this process
(one thread, the app's own functions, no HTTP): a registration (a join with
a new name), a sign-in (every page and every Socket.IO connect), recording
an ended call, and reading a user's history of 50 calls with its missed
calls (the `history` event). PostgreSQL is a throwaway cluster on loopback,
started as the tests start theirs (tests/support/postgres_server.py).

    python -m benchmarks.records [--count 2000] [--json results.json]

Prints, per database, the p50 and p99 of each operation in ms and its rate.
"""

import argparse
import json
import statistics
import tempfile
import time
from datetime import timedelta

from flask import Flask

from chat import records
from chat.extensions import db
from chat.records import registry
from chat.records.registry import utcnow

KEEP = timedelta(days=90)


def timed(fn, count: int) -> dict:
    """Run fn(i) `count` times; p50, p99 (ms) and the rate (per second) of one call."""
    seconds = []
    for i in range(count):
        started = time.perf_counter()
        fn(i)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 3),
        "p99_ms": round(seconds[int(0.99 * (len(seconds) - 1))] * 1000, 3),
        "per_second": round(len(seconds) / sum(seconds), 1),
    }


def measure(url: str, instance: str, count: int) -> dict:
    app = Flask("chat", instance_path=instance)
    app.config["DATABASE_URL"] = url
    app.config["NAME_KEEP_DAYS"] = 90
    records.init_app(app)
    records.upgrade(app)
    with app.app_context():
        keys = []
        out = {"register": timed(lambda i: keys.append(registry.register(f"u{i}", "Bench", KEEP)[1]), count)}
        out["sign_in"] = timed(lambda i: registry.sign_in(keys[i], KEEP), count)
        now = utcnow()
        out["record_call"] = timed(
            lambda i: registry.record_call(
                f"u{i % 20}", f"u{(i + 1) % 20}", "answered", now, now, now, keep=KEEP
            ),
            count,
        )
        out["history"] = timed(
            lambda i: (registry.history(f"u{i % 20}"), registry.unseen_missed(f"u{i % 20}")), count
        )
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    from tests.support.postgres_server import PostgresServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="operations of each kind")
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-records-") as folder:
        results["sqlite"] = measure(None, folder, args.count)
    server = PostgresServer()
    try:
        results["postgresql"] = measure(server.url, tempfile.gettempdir(), args.count)
    finally:
        server.close()
    for database, figures in results.items():
        for operation, figure in figures.items():
            p50, p99, rate = figure["p50_ms"], figure["p99_ms"], figure["per_second"]
            print(f"{database:10} {operation:12} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  {rate:8.1f}/s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"count": args.count, "results": results}, out, indent=2)


if __name__ == "__main__":
    main()
