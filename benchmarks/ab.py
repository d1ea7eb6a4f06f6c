"""A quick before/after check of one change: the driver behind docs/benchmarks.md's fix tables.

    python -m benchmarks.ab [--modes eventlet,gevent] [--kinds ice,offer] [--window 256]
                            [--seconds 8] [--profile DIR] [--memory USERS]

For each mode, a fresh app under gunicorn (CPU 0, the generator on CPU 1),
1,000 users in 500 accepted calls, then for each kind: 1,000 signal messages a
second for 8 s (latency), and a closed loop with `window` messages in flight
for `seconds` (throughput). Prints one line per mode and kind. With --profile,
py-spy records the worker during each closed loop (raw stacks, 200 Hz) into
DIR/<mode>-<kind>.txt; py-spy costs the server some throughput meanwhile.
With --memory, each mode's line also gives the RSS per idle logged-in user:
a second fresh server, USERS users joined, 2 s later (figure 4's method).
Run it on an idle machine, at one commit and then the next.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.loadgen import LoadGenerator
from benchmarks.servers import AppTarget, raise_open_files
from benchmarks.usage import wait_for_quiet


def run_mode(mode: str, kinds: list[str], window: int, seconds: float, profile: Path | None) -> list[dict]:
    target = AppTarget(mode).start()
    rows = []
    try:
        gen = LoadGenerator(target.url)
        try:
            gen.join(1000, 64)
            gen.command(cmd="pair", calls=500)
            for kind in kinds:
                fixed = gen.command(cmd="relay", rate=1000, seconds=8, kind=kind, drain_ms=2000)
                spy = None
                if profile:
                    out = profile / f"{mode}-{kind}.txt"
                    spy = subprocess.Popen(
                        [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record"]
                        + ["--pid", str(target.pid), "--rate", "200", "--duration", str(int(seconds) + 3)]
                        + ["--format", "raw", "--output", str(out), "--nonblocking"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                closed = gen.command(
                    cmd="saturate",
                    window=window,
                    seconds=seconds,
                    warmup=1,
                    max_warmup=5,
                    kind=kind,
                    drain_ms=2000,
                )
                if spy:
                    spy.wait()
                rows.append(
                    {
                        "mode": mode,
                        "kind": kind,
                        "fixed_p50_ms": fixed["latency"]["p50_ms"],
                        "fixed_p99_ms": fixed["latency"]["p99_ms"],
                        "relays_per_s": closed["delivered_per_s"],
                    }
                )
        finally:
            gen.close()
    finally:
        target.stop()
    return rows


def memory_per_user(mode: str, users: int) -> float:
    """KiB of RSS per idle logged-in user on a fresh server."""
    target = AppTarget(mode).start()
    try:
        before = target.rss_kib()
        gen = LoadGenerator(target.url)
        try:
            gen.join(users, 64)
            time.sleep(2)
            return round((target.rss_kib() - before) / users, 1)
        finally:
            gen.close()
    finally:
        target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", default="eventlet,gevent")
    parser.add_argument("--kinds", default="ice,offer")
    parser.add_argument("--window", type=int, default=256, help="messages in flight in the closed loop")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the closed loop")
    parser.add_argument("--profile", type=Path, help="folder for py-spy's raw stacks")
    parser.add_argument("--memory", type=int, default=0, help="also KiB per idle user, with this many users")
    args = parser.parse_args()
    raise_open_files()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    wait_for_quiet(60)
    print(f"{'mode':9} {'kind':6} {'1,000/s p50 ms':>15} {'p99 ms':>8} {f'{args.window} in flight /s':>18}")
    for mode in args.modes.split(","):
        if args.memory:
            print(f"{mode:9} memory per idle user at {args.memory}: {memory_per_user(mode, args.memory)} KiB")
        for row in run_mode(mode, args.kinds.split(","), args.window, args.seconds, args.profile):
            print(
                f"{row['mode']:9} {row['kind']:6} {row['fixed_p50_ms']:>15} {row['fixed_p99_ms']:>8}"
                f" {row['relays_per_s']:>18,.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
