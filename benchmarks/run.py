"""`make bench`: figures 1 to 5 for the app (gunicorn eventlet and gevent) and the Node baseline.

    python -m benchmarks.run [--quick] [--modes eventlet,gevent] [--skip-browser]

Every target runs on CPU 0 and the load generator on CPU 1. The Node baseline
is measured once per run and compared with each mode; the minimal Flask-SocketIO
relay (benchmarks/flask_relay/) is measured once per mode, right after that
mode's app, under the same gunicorn worker, and compared with it ("flask_relay",
"ratios_flask"; figures 1 to 4 only). Figure 5 (call setup in
Chromium, benchmarks/call_setup.py) is measured for each mode on two routes,
"direct" (the app without TURN settings) and "relay" (through one loopback
coturn started for the whole run, the app restarted with its TURN settings),
each "idle" and "under_load" (figure 2's load): "call_setup" in the results is
{"direct": {"idle": ..., "under_load": ...}, "relay": {...}}, each leaf as
call_setup.run() gives it or {"skipped": reason}. A quick run measures figure 5
only with --browser, idle only, one call each. Writes
benchmarks/results/<date>-<mode>.json (<date>-quick-<mode>.json with --quick,
same keys) and, after a full run, the plots in docs/benchmarks/.

Across processes ("multi" in the results, unless --skip-multi): the Node
baseline as two processes sharing a Redis (server.js with REDIS_URL and
@socket.io/redis-adapter), once per run, and each mode's app as two gunicorn
processes sharing a Redis, right after that mode's Flask relay; each pair with
a redis-server of its own (persistence off). Users are spread over both
processes and every call has one party on each; the phases are connect and
join, the ICE relay at the fixed rate, ICE saturation, and the relay at one rate
without and then with a third process that no user connects to (the bystander). Both processes
and Redis run on CPU 0, the generator on CPU 1 (servers.PAIR_PINNING). Every
figure is also given as a ratio to the Node pair ("multi.ratios"), to the same
server as one process ("multi.vs_one_process"), and report.scaling() estimates
from them what more cores would give ("multi.scaling").
"""

import argparse
import datetime
import importlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType

from tqdm import tqdm

from benchmarks import report
from benchmarks.figures import FULL, KINDS, QUICK, Params, Runner, say
from benchmarks.loadgen import LoadGenerator, background_load
from benchmarks.servers import (
    GENERATOR_CPU,
    MODES,
    PAIR_PINNING,
    SERVER_CPU,
    SPREAD_PINNING,
    AppTarget,
    FlaskRelayTarget,
    NodeTarget,
    PairTarget,
    Target,
    raise_open_files,
)
from benchmarks.usage import wait_for_quiet


class Generators:
    """Load generators aimed at one target (at each of its URLs), and what a dropped connection needs."""

    def __init__(self, target: Target, runner: Runner) -> None:
        self.target = target
        self.runner = runner
        self.calls = 0

    def new(self) -> LoadGenerator:
        urls = getattr(self.target, "urls", None) or self.target.url
        return LoadGenerator(urls, stderr=self.target.logdir / "loadgen.log")

    def healthy(self, gen: LoadGenerator, figure: dict) -> LoadGenerator:
        """`gen`, or a new one with fresh users and calls on the restarted server if it dropped any."""
        status = gen.command(cmd="status")
        figure["connections_after"] = {"connected": status["connected"], "dropped": status["dropped"]}
        if not status["dropped"]:
            return gen
        say(f"{self.target.name}: the server dropped {status['dropped']} connections; restarting it")
        gen.close()
        self.target.restart()
        gen = self.new()
        gen.join(2 * self.calls, self.runner.params.join_concurrency)
        self.runner.pair(gen, 2 * self.calls)
        return gen


def measure(target: Target, params: Params) -> dict:
    """Figures 1 to 4 against a started target; restarts it for figure 4.

    If the server dropped connections during a figure (as an overloaded one may), the figure
    records how many, and the next one starts on a restarted server with fresh users and calls.
    """
    runner = Runner(target, params)
    gens = Generators(target, runner)
    generator, healthy = gens.new, gens.healthy
    gen = generator()
    try:
        figures = {"connect_join": runner.connect_join(gen)}
        figures["calls"] = runner.pair(gen, figures["connect_join"]["joined"])
        gens.calls = figures["calls"]["calls"]
        figures["relay_latency"] = runner.relay_latency(gen)
        gen = healthy(gen, figures["relay_latency"])
        figures["latency_vs_load"] = {"ice": runner.latency_vs_load(gen, "ice")}
        gen = healthy(gen, figures["latency_vs_load"])
        figures["saturation"] = {}
        for kind in KINDS:
            figures["saturation"][kind] = runner.saturation(gen, kind)
            gen = healthy(gen, figures["saturation"][kind])
    finally:
        gen.close()
    figures["memory"] = runner.memory(generator)
    figures["server_errors"] = target.error_summary()
    figures["logs"] = str(target.logdir)
    return figures


# The phases across processes relay ICE-sized messages only.
MULTI_KIND = "ice"


def measure_pair(target: PairTarget, params: Params) -> dict:
    """The phases across processes against a started PairTarget.

    Connect and join (users spread over both processes), calls with one party on each process,
    the relay at params.fixed_rate, saturation, and the relay without and with a bystander
    process (bystander_rate()). Raises if no call could be placed across the processes (a server
    that does not share its state through REDIS_URL).
    """
    runner = Runner(target, params)
    gens = Generators(target, runner)
    gen = gens.new()
    kind = MULTI_KIND
    try:
        figures = {"processes": len(target.urls), "connect_join": runner.connect_join(gen)}
        figures["calls"] = runner.pair(gen, figures["connect_join"]["joined"])
        gens.calls = figures["calls"]["calls"]
        if not figures["calls"].get("across_targets"):
            raise RuntimeError(
                f"no call across the two processes ({figures['calls']}): do they share their state "
                "through REDIS_URL?"
            )
        figures["relay_latency"] = {kind: runner.relay(gen, params.fixed_rate, params.fixed_seconds, kind)}
        relay = figures["relay_latency"][kind]
        relay["lost"] = relay["sent"] - relay["delivered"]
        gen = gens.healthy(gen, relay)
        figures["saturation"] = {kind: runner.saturation(gen, kind)}
        gen = gens.healthy(gen, figures["saturation"][kind])
        figures["bystander"] = {kind: runner.bystander(gen, bystander_rate(figures), kind)}
        gen = gens.healthy(gen, figures["bystander"][kind])
    finally:
        gen.close()
    figures["server_errors"] = target.error_summary()
    figures["logs"] = str(target.logdir)
    return figures


def bystander_rate(figures: dict) -> int:
    """The rate of the bystander's steps: three quarters of the pair's saturation, in steps of 50.

    Near saturation, so that its costs per message are those of a busy process (which reads many
    messages a wake-up; at 1,000 a second each wakes it alone, and costs several times as much),
    with room left for the bystander's own share of the core.
    """
    return max(int(0.75 * figures["saturation"][MULTI_KIND]["max_delivered_per_s"]) // 50 * 50, 50)


def measure_spread(target: PairTarget, params: Params) -> dict:
    """The relay across processes at params.fixed_rate with a core per process (SPREAD_PINNING)."""
    runner = Runner(target, params)
    gens = Generators(target, runner)
    gen = gens.new()
    try:
        figures = {"pinning": target.pinning, "connect_join": runner.connect_join(gen)}
        figures["calls"] = runner.pair(gen, figures["connect_join"]["joined"])
        relay = runner.relay(gen, params.fixed_rate, params.fixed_seconds, MULTI_KIND)
        relay["lost"] = relay["sent"] - relay["delivered"]
        figures["relay_latency"] = {MULTI_KIND: relay}
    finally:
        gen.close()
    figures["server_errors"] = target.error_summary()
    return figures


def measure_multi(name: str, make: Callable[[], Target], params: Params) -> dict:
    """measure_pair() on a new PairTarget of `make()` processes, or {"skipped": why} if it failed.

    Then the fixed-rate relay once more on a pair with a core per process ("spread").
    """
    target = PairTarget(name, make)
    say(f"{name}: two processes sharing a Redis")
    t0 = time.monotonic()
    try:
        target.start()
        figures = {"redis": target.redis.describe(), **measure_pair(target, params)}
        target.stop()
        say(f"{name}: the relay again with a core per process")
        target = PairTarget(f"{name}-spread", make, pinning=SPREAD_PINNING)
        target.start()
        figures["spread"] = measure_spread(target, params)
        say(f"{name} measured in {time.monotonic() - t0:.0f} s")
        return figures
    except Exception as err:  # the other figures stand; the reason is in the results
        reason = f"{type(err).__name__}: {err}"
        say(f"{name}: the phases across processes failed: {reason}")
        return {"skipped": reason, "traceback": traceback.format_exc()[-4000:], "logs": str(target.logdir)}
    finally:
        target.stop()


def multi_section(app_pair: dict | None, node_pair: dict | None, app: dict, node: dict) -> dict:
    """The results' "multi": both pairs, their ratios, each against its one process, the scaling estimate."""
    if app_pair is None or node_pair is None:
        return {"skipped": "--skip-multi"}
    out = {
        "pinning": {
            **PAIR_PINNING,
            "bystander": PAIR_PINNING["processes"][0],
            "layout": "both server processes, their Redis and the bystander on CPU "
            f"{SERVER_CPU}; the generator alone on CPU {GENERATOR_CPU}",
        },
        "redis": next((f["redis"] for f in (app_pair, node_pair) if "redis" in f), None),
        "app": app_pair,
        "node": node_pair,
    }
    measured = {"app": "skipped" not in app_pair, "node": "skipped" not in node_pair}
    if all(measured.values()):
        out["ratios"] = report.multi_ratios(app_pair, node_pair)
    out["vs_one_process"] = {
        side: report.vs_one_process(pair, single)
        for side, pair, single in (("app", app_pair, app), ("node", node_pair, node))
        if measured[side]
    }
    out["scaling"] = {
        side: report.scaling(pair, single)
        for side, pair, single in (("app", app_pair, app), ("node", node_pair, node))
        if measured[side]
    }
    out["generator_cpu"] = {
        side: report.multi_generator_cpu(pair)
        for side, pair in (("app", app_pair), ("node", node_pair))
        if measured[side]
    }
    return out


# Figure 5's routes, and the loads each is measured under: the keys of "call_setup".
ROUTES = ("direct", "relay")
LOADS = ("idle", "under_load")


def skipped(reason: str, routes: tuple[str, ...] = ROUTES) -> dict:
    """Figure 5's leaves on `routes`, each {"skipped": reason}."""
    return {route: {load: {"skipped": reason} for load in LOADS} for route in routes}


@contextmanager
def turn_server(skip: str | None) -> Iterator[tuple[list[str], str] | str]:
    """Figure 5's loopback coturn, one for the whole run: yields (TURN URLs, secret), or why there is none."""
    if skip:
        yield skip
        return
    with ExitStack() as stack:
        try:
            module = importlib.import_module("benchmarks.call_setup")
            turn = stack.enter_context(module.coturn())
            say(f"coturn for figure 5's relay route: {turn[0][0]}")
        except Exception as err:  # the relay route is skipped, the rest stands
            turn = f"no coturn for the relay route: {type(err).__name__}: {err}"
            say(turn)
        yield turn


def call_setup(
    app: AppTarget, floor: Target, calls: int, under_load: bool, skip: str | None, turn: tuple | str
) -> dict:
    """Figure 5 from benchmarks/call_setup.py: {route: {load: leaf}} (see the module's doc).

    turn: what turn_server() yields. The app is restarted for each route measured, and left
    running with its plain settings.
    """
    if skip:
        return skipped(skip)
    try:
        module = importlib.import_module("benchmarks.call_setup")
    except Exception as err:  # a missing or broken module skips figure 5, the rest stands
        return skipped(f"benchmarks.call_setup not importable: {type(err).__name__}: {err}")
    return Figure5(module, app, floor, calls, under_load).measure(turn)


class Figure5:
    """Figure 5 for one app target, the floor pages served by `floor`: each route and load."""

    def __init__(self, module: ModuleType, app: AppTarget, floor: Target, calls: int, under_load: bool):
        self.module = module
        self.app = app
        self.floor = floor
        self.calls = calls
        self.under_load = under_load

    def measure(self, turn: tuple | str) -> dict:
        try:
            out = {"direct": self.route("direct", {}, None)}
            if isinstance(turn, str):
                return {**out, **skipped(turn, ("relay",))}
            urls, secret = turn
            settings = self.module.relay_settings(urls, secret)
            out["relay"] = self.route("relay", settings, self.module.floor_turn(urls, secret))
            return out
        finally:
            if self.app.settings:  # plain again for whatever follows
                self.app.settings = {}
                self.app.restart()

    def route(self, route: str, settings: dict[str, str], turn: dict | None) -> dict:
        """Both loads of one route, on the app restarted with `settings`; the floor relays with `turn`."""
        self.app.settings = settings
        try:
            self.app.restart()
        except RuntimeError as err:
            reason = f"the app did not start with the {route} route's settings: {err}"
            say(f"{self.app.name}: {reason}")
            return skipped(reason, (route,))[route]
        return {load: self.leaf(route, load, turn) for load in LOADS}

    def leaf(self, route: str, load: str, turn: dict | None) -> dict:
        if load == "under_load" and not self.under_load:
            return {"skipped": "not measured in a quick run"}
        label = f"{route}, {load.replace('_', ' ')}"
        kwargs = {"load": background_load} if load == "under_load" else {}
        # The browsers (and Playwright's driver) inherit this process's affinity: pinned to the
        # generator's core, both Chromiums shared one core and call setup took 2-3 times as long.
        pinned_to = os.sched_getaffinity(0)
        os.sched_setaffinity(0, range(os.cpu_count()))
        # call_setup advances the bar once per measured call: `calls` through the app, as many on the floor.
        desc = f"{self.app.name}: browser call setup, {label}"
        with tqdm(desc=desc, unit="calls", total=2 * self.calls, leave=False, disable=None) as bar:
            try:
                result = self.module.run(self.app.url, self.floor.url, self.calls, turn, bar, **kwargs)
            except Exception as err:
                reason = f"call_setup.run failed: {type(err).__name__}: {err}"
                result = {"skipped": reason, "traceback": traceback.format_exc()[-4000:]}
            finally:
                os.sched_setaffinity(0, pinned_to)
        say(f"{self.app.name}: call setup {label}: {_brief(result)}")
        return result


def _brief(result: dict) -> str:
    if "skipped" in result:
        return f"skipped ({result['skipped'][:200]})"
    app, floor = result.get("app", {}), result.get("floor", {})
    ratio = result.get("ratio_p50")
    return f"app p50 {app.get('p50_ms')} ms, floor p50 {floor.get('p50_ms')} ms, ratio {ratio}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts, a minute and a half; same keys")
    parser.add_argument("--modes", default="eventlet,gevent", help="app async modes: eventlet,gevent")
    parser.add_argument("--skip-browser", action="store_true", help="record figure 5 as skipped")
    parser.add_argument(
        "--browser", action="store_true", help="with --quick: run figure 5 too (1 call each; over a minute)"
    )
    parser.add_argument(
        "--skip-multi", action="store_true", help="skip the phases across two processes sharing a Redis"
    )
    parser.add_argument("--no-plots", action="store_true", help="write no PNGs (quick runs never do)")
    parser.add_argument("--quiet-wait", type=float, default=None, help="seconds to wait for an idle machine")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; known: {', '.join(MODES)}")
    params = QUICK if args.quick else FULL
    # A terminated run still stops its servers (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_open_files()
    # The orchestrator mostly waits; keep it off the server's core.
    os.sched_setaffinity(0, {GENERATOR_CPU % os.cpu_count()})

    started = datetime.datetime.now().astimezone()
    date = started.strftime("%Y-%m-%d")
    quiet = wait_for_quiet(args.quiet_wait if args.quiet_wait is not None else (0 if args.quick else 60))
    if not quiet["quiet"]:
        say(f"warning: the machine is {quiet['busy_percent']}% busy with other work; figures will be noisy")
    common = {
        "schema": 1,
        "date": date,
        "started_at": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": report.machine(),
        "source": report.source(),
        "params": params.as_dict(),
        "machine_busy_before": quiet,
        "method": {
            "server_cpu": 0,
            "generator_cpu": GENERATOR_CPU,
            "generator": "benchmarks/loadgen/loadgen.js (Node, raw HTTP/WebSocket/Engine.IO framing)",
            "ratio": "app / node; see `better` for which way is good for the app",
            "ratio_flask": "app / flask_relay (ratios_flask), the same way",
            "multi": "two processes of each server sharing a Redis of their own, every call across them; "
            "multi.ratios is app pair / Node pair, multi.vs_one_process pair / the same server alone",
        },
    }
    t0 = time.monotonic()
    node = NodeTarget()
    apps: list[Target] = []  # the apps and the Flask relays, stopped at the end
    written = []
    stack = ExitStack()  # figure 5's coturn
    try:
        say("Node baseline")
        node_figures = measure(node.start(), params)
        say(f"Node baseline measured in {time.monotonic() - t0:.0f} s")
        node_pair = None if args.skip_multi else measure_multi("node-pair", NodeTarget, params)
        skip = "--skip-browser" if args.skip_browser else None
        if args.quick and not args.browser:
            skip = "quick run (add --browser for one call each)"
        if not skip:
            node.restart()  # a fresh baseline serves the floor pages of figure 5 from here on
        turn = stack.enter_context(turn_server(skip))
        for mode in modes:
            app = AppTarget(mode)
            apps.append(app)
            say(f"app, gunicorn {mode}")
            t1 = time.monotonic()
            app_figures = measure(app.start(), params)
            # Restarts the app for each of its routes.
            figure5 = call_setup(app, node, params.browser_calls, not args.quick, skip, turn)
            app.stop()
            say(f"app, gunicorn {mode} measured in {time.monotonic() - t1:.0f} s")
            relay = FlaskRelayTarget(mode)
            apps.append(relay)
            say(f"Flask-SocketIO relay, gunicorn {mode}")
            t2 = time.monotonic()
            relay_figures = measure(relay.start(), params)
            relay.stop()
            say(f"Flask-SocketIO relay, gunicorn {mode} measured in {time.monotonic() - t2:.0f} s")
            app_pair = None
            if not args.skip_multi:
                app_pair = measure_multi(f"app-{mode}-pair", lambda mode=mode: AppTarget(mode), params)
            result = {
                **common,
                "mode": mode,
                "app": app_figures,
                "node": node_figures,
                "ratios": report.ratios(app_figures, node_figures),
                "flask_relay": relay_figures,
                "ratios_flask": report.ratios(app_figures, relay_figures, base="flask_relay"),
                "call_setup": figure5,
                "multi": multi_section(app_pair, node_pair, app_figures, node_figures),
                "generator_cpu": {
                    "app": report.generator_cpu(app_figures),
                    "node": report.generator_cpu(node_figures),
                    "flask_relay": report.generator_cpu(relay_figures),
                },
                "elapsed_s": round(time.monotonic() - t0, 1),
            }
            name = f"{date}-quick-{mode}.json" if args.quick else f"{date}-{mode}.json"
            path = report.RESULTS / name
            report.write(path, result)
            written.append(path)
            say(f"wrote {path.relative_to(report.ROOT)}")
    finally:
        # The servers' logs stay in their folders (named in each figure's "logs").
        node.stop()
        for app in apps:
            app.stop()
        stack.close()
    if written:
        results = [json.loads(p.read_text()) for p in written]
        print(report.markdown(results))
        print()
        print(report.call_setup_markdown(results))
        if any("app" in r.get("multi", {}) for r in results):
            print()
            print(report.multi_markdown(results))
            print()
            print(report.scaling_markdown(results))
    if not args.quick and not args.no_plots and written:
        from benchmarks import plot

        for png in plot.plot(written):
            say(f"plotted {Path(png).relative_to(report.ROOT)}")
    say(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
