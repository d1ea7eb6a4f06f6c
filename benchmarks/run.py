"""`make bench`: figures 1 to 5 for the app (gunicorn eventlet and gevent) and the Node baseline.

    python -m benchmarks.run [--quick] [--modes eventlet,gevent] [--skip-browser]

Every target runs on CPU 0 and the load generator on CPU 1. The Node baseline
is measured once per run and compared with each mode. Writes
benchmarks/results/<date>-<mode>.json (<date>-quick-<mode>.json with --quick,
same keys) and, after a full run, the plots in docs/benchmarks/.
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
from pathlib import Path

from tqdm import tqdm

from benchmarks import report
from benchmarks.figures import FULL, KINDS, QUICK, Params, Runner, say
from benchmarks.loadgen import LoadGenerator, background_load
from benchmarks.servers import GENERATOR_CPU, MODES, AppTarget, NodeTarget, Target, raise_open_files
from benchmarks.usage import wait_for_quiet


def measure(target: Target, params: Params) -> dict:
    """Figures 1 to 4 against a started target; restarts it for figure 4.

    If the server dropped connections during a figure (as an overloaded one may), the figure
    records how many, and the next one starts on a restarted server with fresh users and calls.
    """
    runner = Runner(target, params)

    def generator() -> LoadGenerator:
        return LoadGenerator(target.url, stderr=target.logdir / "loadgen.log")

    def healthy(gen: LoadGenerator, figure: dict) -> LoadGenerator:
        status = gen.command(cmd="status")
        figure["connections_after"] = {"connected": status["connected"], "dropped": status["dropped"]}
        if not status["dropped"]:
            return gen
        say(f"{target.name}: the server dropped {status['dropped']} connections; restarting it")
        gen.close()
        target.restart()
        gen = generator()
        gen.join(2 * calls, params.join_concurrency)
        runner.pair(gen, 2 * calls)
        return gen

    gen = generator()
    try:
        figures = {"connect_join": runner.connect_join(gen)}
        figures["calls"] = runner.pair(gen, figures["connect_join"]["joined"])
        calls = figures["calls"]["calls"]
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


def call_setup(app: Target, floor: Target, calls: int, under_load: bool, skip: str | None) -> dict:
    """Figure 5 from benchmarks/call_setup.py, idle and under figure 2's load, or {"skipped": reason}."""
    if skip:
        return {"idle": {"skipped": skip}, "under_load": {"skipped": skip}}
    try:
        module = importlib.import_module("benchmarks.call_setup")
    except Exception as err:  # a missing or broken module skips figure 5, the rest stands
        reason = f"benchmarks.call_setup not importable: {type(err).__name__}: {err}"
        return {"idle": {"skipped": reason}, "under_load": {"skipped": reason}}
    out = {}
    for label, load in (("idle", None), ("under_load", background_load if under_load else None)):
        if label == "under_load" and not under_load:
            out[label] = {"skipped": "not measured in a quick run"}
            continue
        # call_setup advances the bar once per measured call: `calls` through the app, as many on the floor.
        desc = f"{app.name}: browser call setup, {label.replace('_', ' ')}"
        # The browsers (and Playwright's driver) inherit this process's affinity: pinned to the
        # generator's core, both Chromiums shared one core and call setup took 2-3 times as long.
        pinned_to = os.sched_getaffinity(0)
        os.sched_setaffinity(0, range(os.cpu_count()))
        with tqdm(desc=desc, unit="calls", total=2 * calls, leave=False, disable=None) as bar:
            try:
                kwargs = {"load": load} if load else {}
                out[label] = module.run(app.url, floor.url, calls, None, bar, **kwargs)
            except Exception as err:
                reason = f"call_setup.run failed: {type(err).__name__}: {err}"
                out[label] = {"skipped": reason, "traceback": traceback.format_exc()[-4000:]}
            finally:
                os.sched_setaffinity(0, pinned_to)
        say(f"{app.name}: call setup {label}: {_brief(out[label])}")
    return out


def _brief(result: dict) -> str:
    if "skipped" in result:
        return f"skipped ({result['skipped'][:200]})"
    app, floor = result.get("app", {}), result.get("floor", {})
    ratio = result.get("ratio_p50")
    return f"app p50 {app.get('p50_ms')} ms, floor p50 {floor.get('p50_ms')} ms, ratio {ratio}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts, under a minute; same keys")
    parser.add_argument("--modes", default="eventlet,gevent", help="app async modes: eventlet,gevent")
    parser.add_argument("--skip-browser", action="store_true", help="record figure 5 as skipped")
    parser.add_argument(
        "--browser", action="store_true", help="with --quick: run figure 5 too (1 call each; over a minute)"
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
        },
    }
    t0 = time.monotonic()
    node = NodeTarget()
    apps: list[AppTarget] = []
    written = []
    try:
        say("Node baseline")
        node_figures = measure(node.start(), params)
        say(f"Node baseline measured in {time.monotonic() - t0:.0f} s")
        skip = "--skip-browser" if args.skip_browser else None
        if args.quick and not args.browser:
            skip = "quick run (add --browser for one call each)"
        if not skip:
            node.restart()  # a fresh baseline serves the floor pages of figure 5 from here on
        for mode in modes:
            app = AppTarget(mode)
            apps.append(app)
            say(f"app, gunicorn {mode}")
            t1 = time.monotonic()
            app_figures = measure(app.start(), params)
            if not skip:
                app.restart()
            figure5 = call_setup(app, node, params.browser_calls, not args.quick, skip)
            app.stop()
            say(f"app, gunicorn {mode} measured in {time.monotonic() - t1:.0f} s")
            result = {
                **common,
                "mode": mode,
                "app": app_figures,
                "node": node_figures,
                "ratios": report.ratios(app_figures, node_figures),
                "call_setup": figure5,
                "generator_cpu": {
                    "app": report.generator_cpu(app_figures),
                    "node": report.generator_cpu(node_figures),
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
    if written:
        print(report.markdown([json.loads(p.read_text()) for p in written]))
    if not args.quick and not args.no_plots and written:
        from benchmarks import plot

        for png in plot.plot(written):
            say(f"plotted {Path(png).relative_to(report.ROOT)}")
    say(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
