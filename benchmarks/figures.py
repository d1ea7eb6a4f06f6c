"""Figures 1 to 4 against one target, each with the CPU use of the server and the generator.

1. connect_join: logged-in users per second (GET /, POST /join, Socket.IO until `hello`).
2. relay_latency: p50/p90/p99/max of `signal` relays at a fixed rate over accepted
   calls, for ICE-sized and offer-sized payloads; latency_vs_load repeats it at
   several rates for the plot.
3. saturation: delivered relays per second, closed loop, the window of messages in
   flight growing (x4 a step) until the median latency passes 2 s or the windows run
   out; each step is measured after a warm-up in which every first message arrived,
   for at least twice that warm-up; the figure is the best step.
4. memory: server RSS per idle logged-in user at several user counts.

Against a PairTarget (two processes sharing a Redis) the same steps run with the
users spread over both processes and every call across them, and bystander() relays
at one rate without and with a third process that holds no user.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from tqdm import tqdm

from benchmarks.loadgen import LoadGenerator
from benchmarks.servers import Target
from benchmarks.usage import Usage, machine_busy_percent

KINDS = ("ice", "offer")


@dataclass
class Params:
    join_users: int = 2000
    join_concurrency: int = 64
    calls: int = 500
    fixed_rate: int = 1000
    fixed_seconds: float = 10.0
    sweep_rates: list[int] = field(default_factory=lambda: [250, 500, 1000, 2000, 4000])
    sweep_seconds: float = 5.0
    windows: list[int] = field(default_factory=lambda: [16, 64, 256, 1024, 4096, 16384])
    saturate_seconds: float = 3.0
    saturate_warmup: float = 0.5
    saturate_max_warmup: float = 10.0
    memory_users: list[int] = field(default_factory=lambda: [1000, 5000, 10000])
    settle_seconds: float = 2.0
    drain_ms: int = 20000
    browser_calls: int = 10  # the issue asks for p50/p90 over at least 10 calls
    # Seconds to wait before each step for other programs to quiet down.
    quiet_wait: float = 5.0

    def as_dict(self) -> dict:
        return asdict(self)


FULL = Params()
QUICK = Params(
    join_users=50,
    join_concurrency=16,
    calls=25,
    fixed_rate=200,
    fixed_seconds=1.0,
    sweep_rates=[100, 400],
    sweep_seconds=0.5,
    windows=[64],
    saturate_seconds=1.0,
    saturate_warmup=0.25,
    saturate_max_warmup=3.0,
    memory_users=[100, 200, 500],
    settle_seconds=0.25,
    drain_ms=5000,
    browser_calls=1,
    quiet_wait=0.0,
)
# A relay rate is overloaded when its median latency passes this, or messages go missing.
OVERLOADED_P50_MS = 500.0
# Between steps the machine counts as quiet under this (percent of all cores busy).
QUIET_BUSY_PERCENT = 15.0
# Saturation: stop growing the window once median latency passes this.
SATURATED_P50_MS = 2000.0


def say(message: str) -> None:
    tqdm.write(message)


def redis_delta(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict:
    """Redis commands run between two command_stats(): calls and µs per call of each, most time first."""
    out = {}
    for name, (calls, usec) in after.items():
        calls0, usec0 = before.get(name, (0, 0))
        if calls > calls0:
            out[name] = {
                "calls": calls - calls0,
                "usec_per_call": round((usec - usec0) / (calls - calls0), 2),
            }
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["calls"] * kv[1]["usec_per_call"]))


class Runner:
    """Runs generator commands against one target with a progress bar and CPU accounting."""

    def __init__(self, target: Target, params: Params):
        self.target = target
        self.params = params

    def wait_idle(self, limit: float = 30.0) -> None:
        """Before a step: let the server finish the last one's backlog, and other programs quiet down.

        Waits up to `limit` seconds for the server to go idle, and up to params.quiet_wait more for
        the whole machine (other programs: the server and the generator are idle by then).
        """
        start = time.monotonic()
        while time.monotonic() - start < limit:
            before = self.target.cpu_seconds()
            time.sleep(0.1)
            if self.target.cpu_seconds() - before < 0.011:
                break
        start = time.monotonic()
        quiet_wait = self.params.quiet_wait
        while time.monotonic() - start < quiet_wait and machine_busy_percent(0.2) > QUIET_BUSY_PERCENT:
            pass

    def step(self, gen: LoadGenerator, label: str, unit: str, run: Callable[..., dict]) -> dict:
        self.wait_idle()
        redis = getattr(self.target, "redis", None)  # a PairTarget's: what the step asked of it
        commands = redis.command_stats() if redis else None
        usage = Usage(self.target.pids(), gen.pid, self.target.parts()).start()
        desc = f"{self.target.name}: {label}"
        with tqdm(desc=desc, unit=unit, leave=False, dynamic_ncols=True, disable=None) as bar:

            def progress(done: float, total: float) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            result = run(progress)
        result["cpu"] = usage.stop()
        if commands is not None:
            result["redis_commands"] = redis_delta(commands, redis.command_stats())
        result.pop("type", None)
        result.pop("ok", None)
        return result

    # Figure 1

    def connect_join(self, gen: LoadGenerator) -> dict:
        p = self.params
        result = self.step(
            gen,
            f"connect and join {p.join_users} users",
            "users",
            lambda progress: gen.join(p.join_users, p.join_concurrency, progress),
        )
        say(
            f"{self.target.name}: {result['joined']} users joined at {result['rate']}/s "
            f"(p50 {result['latency']['p50_ms']} ms), server {result['cpu']['server_percent']}% "
            f"generator {result['cpu']['generator_percent']}%"
        )
        return {
            "users": p.join_users,
            "concurrency": p.join_concurrency,
            "rate_per_s": result["rate"],
            **result,
        }

    # Figure 2

    def pair(self, gen: LoadGenerator, users: int) -> dict:
        calls = min(self.params.calls, users // 2)
        return self.step(
            gen, f"{calls} calls", "calls", lambda progress: gen.command(progress, cmd="pair", calls=calls)
        )

    def relay(self, gen: LoadGenerator, rate: int, seconds: float, kind: str, note: str = "") -> dict:
        result = self.step(
            gen,
            f"relay {kind} at {rate}/s{note}",
            "msgs",
            lambda progress: gen.command(
                progress, cmd="relay", rate=rate, seconds=seconds, kind=kind, drain_ms=self.params.drain_ms
            ),
        )
        lat = result["latency"]
        result["overloaded"] = bool(result["undelivered"] or (lat["p50_ms"] or 0) > OVERLOADED_P50_MS)
        parts = "".join(f" {k} {v}%" for k, v in result["cpu"].get("parts_percent", {}).items())
        say(
            f"{self.target.name}: {kind} at {rate}/s{note}: p50 {lat['p50_ms']} p90 {lat['p90_ms']} "
            f"p99 {lat['p99_ms']} max {lat['max_ms']} ms, undelivered {result['undelivered']}, "
            f"server {result['cpu']['server_percent']}%{' (' + parts.strip() + ')' if parts else ''} "
            f"generator {result['cpu']['generator_percent']}%"
        )
        return result

    def relay_latency(self, gen: LoadGenerator) -> dict:
        p = self.params
        return {kind: self.relay(gen, p.fixed_rate, p.fixed_seconds, kind) for kind in KINDS}

    def latency_vs_load(self, gen: LoadGenerator, kind: str = "ice") -> list[dict]:
        """The fixed-rate relay at each sweep rate; rates past the first overloaded one are skipped."""
        points, overloaded_at = [], None
        for rate in self.params.sweep_rates:
            if overloaded_at is not None:
                points.append({"rate": rate, "skipped": f"overloaded at {overloaded_at}/s already"})
                continue
            point = self.relay(gen, rate, self.params.sweep_seconds, kind)
            points.append(point)
            if point["overloaded"]:
                overloaded_at = rate
        return points

    # Figure 3

    def saturation(self, gen: LoadGenerator, kind: str) -> dict:
        p = self.params
        steps = []
        for window in p.windows:
            step = self.step(
                gen,
                f"saturate {kind}, {window} in flight",
                "s",
                lambda progress, window=window: gen.command(
                    progress,
                    cmd="saturate",
                    window=window,
                    seconds=p.saturate_seconds,
                    warmup=p.saturate_warmup,
                    max_warmup=p.saturate_max_warmup,
                    kind=kind,
                    drain_ms=p.drain_ms,
                ),
            )
            steps.append(step)
            say(
                f"{self.target.name}: saturate {kind} window {window}: {step['delivered_per_s']}/s, "
                f"p50 {step['latency']['p50_ms']} ms, server {step['cpu']['server_percent']}% "
                f"generator {step['cpu']['generator_percent']}%"
            )
            if (step["latency"]["p50_ms"] or 0) > SATURATED_P50_MS:
                break
        best = max(steps, key=lambda s: s["delivered_per_s"])
        gen_share = best["cpu"]["generator_percent"] / 100
        return {
            "max_delivered_per_s": best["delivered_per_s"],
            # The generator's CPU per relayed message at the best step, and the rate at which it would
            # fill its own core: the margin by which it is not the bottleneck.
            "generator_cpu_us_per_relay": round(1e6 * gen_share / max(best["delivered_per_s"], 1e-9), 1),
            "generator_core_would_fill_at_per_s": round(best["delivered_per_s"] / max(gen_share, 1e-9)),
            "at_window": best["window"],
            "latency_at_max": best["latency"],
            "cpu_at_max": best["cpu"],
            "steps": steps,
        }

    def bystander(self, gen: LoadGenerator, rate: int, kind: str = "ice") -> dict:
        """The relay at `rate` for sweep_seconds twice: as it is, then with a bystander process.

        The bystander is a third server process on the same Redis and core that no user connects
        to, so all it does is what every further process would do for a message relayed between
        two others. Its CPU per relayed message, and what it adds to Redis's, are what the scaling
        estimate (report.scaling) needs; the two steps back to back at one rate make the second a
        difference of like with like. The target must be a PairTarget.
        """
        p = self.params
        without = self.relay(gen, rate, p.sweep_seconds, kind)
        self.target.start_bystander()
        try:
            time.sleep(p.settle_seconds)
            beside = self.relay(gen, rate, p.sweep_seconds, kind, note=", with a bystander process")
        finally:
            self.target.stop_bystander()
        return {"rate": rate, "without": without, "with": beside}

    # Figure 4

    def memory(self, gen_factory: Callable[[], LoadGenerator]) -> dict:
        """RSS per idle user, on a freshly started target (restarted here)."""
        p = self.params
        self.target.restart()
        time.sleep(p.settle_seconds)
        before = self.target.rss_kib()
        points = []
        gen = gen_factory()
        try:
            for users in p.memory_users:
                joined = self.step(
                    gen,
                    f"memory: join up to {users} users",
                    "users",
                    lambda progress, n=users - gen.joined: gen.join(
                        n, self.params.join_concurrency, progress
                    ),
                )
                time.sleep(p.settle_seconds)
                status = gen.command(cmd="status")
                rss = self.target.rss_kib()
                point = {
                    "users": users,
                    "connected": status["connected"],
                    "rss_kib": rss,
                    "delta_kib": rss - before,
                    "per_user_kib": round((rss - before) / max(status["connected"], 1), 2),
                    "join_rate_per_s": joined["rate"],
                    "join_failed": joined["failed"],
                    "join_errors": joined["errors"],
                    "cpu": joined["cpu"],
                }
                points.append(point)
                say(
                    f"{self.target.name}: {status['connected']} users: RSS {rss} KiB, "
                    f"{point['per_user_kib']} KiB per user"
                )
        finally:
            gen.close()
        return {"rss_before_kib": before, "points": points}
