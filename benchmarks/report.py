"""The results file: the machine, every figure of the app and of both baselines, and their ratios.

`python -m benchmarks.report [FILES]` prints the Markdown tables of docs/benchmarks.md
from results files (default: the newest full run of each mode): the headline figures
against the Node baseline and, where the file has one ("flask_relay"; older
files have none), the minimal Flask-SocketIO relay of the same mode, the CPU of
each phase, and figure 5 (call setup in
Chromium), whose "call_setup" is {"direct"|"relay": {"idle"|"under_load": leaf}}
(older files have only the direct route's {"idle", "under_load"} at its top),
and the phases across two processes sharing a Redis ("multi"; older files have none):
the app pair against the Node pair, each pair against the same server alone, and
the scaling estimate of scaling().
"""

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from benchmarks.servers import BASELINE, ROOT

RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = (
    "flask",
    "flask-socketio",
    "python-socketio",
    "python-engineio",
    "gunicorn",
    "eventlet",
    "gevent",
    "limits",
    "redis",
)
# The headline figures compared with the baseline: (key, label, what is better).
HEADLINES = [
    ("connect_join_per_s", "connect and join (users/s)", "higher"),
    ("relay_ice_p50_ms", "ICE relay at fixed rate, p50 (ms)", "lower"),
    ("relay_ice_p90_ms", "ICE relay at fixed rate, p90 (ms)", "lower"),
    ("relay_ice_p99_ms", "ICE relay at fixed rate, p99 (ms)", "lower"),
    ("relay_ice_max_ms", "ICE relay at fixed rate, max (ms)", "lower"),
    ("relay_offer_p50_ms", "offer relay at fixed rate, p50 (ms)", "lower"),
    ("relay_offer_p90_ms", "offer relay at fixed rate, p90 (ms)", "lower"),
    ("relay_offer_p99_ms", "offer relay at fixed rate, p99 (ms)", "lower"),
    ("relay_offer_max_ms", "offer relay at fixed rate, max (ms)", "lower"),
    ("saturation_ice_per_s", "saturation, ICE (relays/s)", "higher"),
    ("saturation_offer_per_s", "saturation, offer (relays/s)", "higher"),
]


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return ""


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """What the figures were measured on."""
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    lock = json.loads((BASELINE / "package-lock.json").read_text())
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "node": _run(["node", "--version"]),
        "packages": {name: _version(name) for name in PACKAGES},
        "baseline_packages": {
            name: lock["packages"].get(f"node_modules/{name}", {}).get("version")
            for name in ("socket.io", "engine.io", "ws", "@socket.io/redis-adapter", "redis", "@redis/client")
        },
        "open_files_limit": _run(["sh", "-c", "ulimit -Hn"]),
        "argv": sys.argv,
    }


def source() -> dict:
    """The commit measured, and whether the app's files differ from it."""
    commit = _run(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    changed = _run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "chat", "wsgi.py", "config.py"])
    return {
        "commit": commit or None,
        "subject": _run(["git", "-C", str(ROOT), "log", "-1", "--format=%s"]) or None,
        "app_files_changed": [line[3:] for line in changed.splitlines()],
    }


def headlines(figures: dict) -> dict:
    """The figures compared with the baseline, flat, from one target's figures."""
    out = {"connect_join_per_s": figures["connect_join"]["rate_per_s"]}
    for kind in ("ice", "offer"):
        lat = figures["relay_latency"][kind]["latency"]
        for q in ("p50", "p90", "p99", "max"):
            out[f"relay_{kind}_{q}_ms"] = lat[f"{q}_ms"]
        out[f"saturation_{kind}_per_s"] = figures["saturation"][kind]["max_delivered_per_s"]
    for point in figures["memory"]["points"]:
        out[f"memory_per_user_kib_at_{point['users']}"] = point["per_user_kib"]
    return out


def ratios(app: dict, node: dict, base: str = "node") -> dict:
    """app / node for every headline figure; `better` says which way is good for the app.

    Memory is a list, one entry per user count, so that quick and full runs have the same keys.
    `base` names the baseline's key in each entry ("flask_relay" for ratios_flask).
    """
    a, n = headlines(app), headlines(node)

    def entry(value: float | None, baseline: float | None, better: str) -> dict:
        ratio = round(value / baseline, 2) if value is not None and baseline else None
        return {"app": value, base: baseline, "ratio": ratio, "better": better}

    out = {key: entry(a[key], n.get(key), better) for key, _, better in HEADLINES}
    out["memory_per_user_kib"] = [
        {"users": pa["users"], **entry(pa["per_user_kib"], pn["per_user_kib"], "lower")}
        for pa, pn in zip(app["memory"]["points"], node["memory"]["points"], strict=True)
    ]
    return out


def generator_cpu(figures: dict) -> dict:
    """The server's, the generator's and everyone else's CPU percent in every phase of one target."""
    keep = ("server_percent", "generator_percent", "others_percent", "contended")
    rows = {"connect_join": figures["connect_join"]["cpu"]}
    for kind in ("ice", "offer"):
        rows[f"relay_{kind}"] = figures["relay_latency"][kind]["cpu"]
        rows[f"saturation_{kind}"] = figures["saturation"][kind]["cpu_at_max"]
    out = {phase: {k: cpu[k] for k in keep} for phase, cpu in rows.items()}
    points = figures["memory"]["points"]
    out["memory_join"] = [{"users": point["users"], **{k: point["cpu"][k] for k in keep}} for point in points]
    return out


# The headline figures across processes, compared with the Node pair: (key, label, what is better).
MULTI_HEADLINES = [
    ("connect_join_per_s", "connect and join (users/s)", "higher"),
    ("relay_ice_p50_ms", "ICE relay across processes at fixed rate, p50 (ms)", "lower"),
    ("relay_ice_p90_ms", "ICE relay across processes at fixed rate, p90 (ms)", "lower"),
    ("relay_ice_p99_ms", "ICE relay across processes at fixed rate, p99 (ms)", "lower"),
    ("relay_ice_max_ms", "ICE relay across processes at fixed rate, max (ms)", "lower"),
    ("relay_ice_lost", "ICE relay across processes at fixed rate, messages lost", "lower"),
    ("saturation_ice_per_s", "saturation across processes, ICE (relays/s)", "higher"),
]
# A machine of this many cores, for scaling(): one core for Redis, one server process per other core.
SCALING_CORES = (4, 8, 16, 32)


def multi_headlines(figures: dict) -> dict:
    """The figures compared across processes, flat, from one pair's figures (or one process's)."""
    relay = figures["relay_latency"]["ice"]
    out = {"connect_join_per_s": figures["connect_join"]["rate_per_s"]}
    for q in ("p50", "p90", "p99", "max"):
        out[f"relay_ice_{q}_ms"] = relay["latency"][f"{q}_ms"]
    out["relay_ice_lost"] = relay.get("lost", relay["sent"] - relay["delivered"])
    out["saturation_ice_per_s"] = figures["saturation"]["ice"]["max_delivered_per_s"]
    return out


def _entry(value: float | None, baseline: float | None, better: str, base: str) -> dict:
    ratio = round(value / baseline, 2) if value is not None and baseline else None
    return {"app": value, base: baseline, "ratio": ratio, "better": better}


def multi_ratios(app_pair: dict, node_pair: dict) -> dict:
    """app pair / Node pair for every figure across processes (`ratio` None where the pair's is 0)."""
    a, n = multi_headlines(app_pair), multi_headlines(node_pair)
    return {key: _entry(a[key], n[key], better, "node") for key, _, better in MULTI_HEADLINES}


def vs_one_process(pair: dict, single: dict) -> dict:
    """A pair's figures / the same server's as one process, in the same run (the cost of crossing).

    `app` is the pair's figure, `one_process` the single process's; the single process's relay
    at the fixed rate is the same rate and kind, within one process.
    """
    p, s = multi_headlines(pair), multi_headlines(single)
    out = {key: _entry(p[key], s[key], better, "one_process") for key, _, better in MULTI_HEADLINES}
    for entry in out.values():
        entry["pair"] = entry.pop("app")
    return out


def _us_per(cpu: dict, part: str | tuple[str, ...], count: float) -> float | None:
    """CPU µs per item of a step's `part` (a name, or names summed) over `count` items."""
    names = (part,) if isinstance(part, str) else part
    shares = cpu.get("parts_percent", {})
    if not count or not any(name in shares for name in names):
        return None
    return round(1e4 * sum(shares.get(name, 0.0) for name in names) * cpu["wall_s"] / count, 1)


PROCESSES = ("process_1", "process_2")


def scaling(pair: dict, single: dict | None = None, cores: tuple[int, ...] = SCALING_CORES) -> dict:
    """What the pair's figures predict for a machine with more cores.

    From the best saturation step (both processes and Redis sharing one full core): h, the
    processes' CPU per relayed message (sender and receiver together), and r, Redis's. From the
    bystander's two steps at one rate: d, the CPU per relayed message of a third process that no
    user connects to, and e, what it adds to Redis's per message. With P processes each on a core
    of its own and Redis on one more (a machine of P + 1 cores, the load generated elsewhere), and
    every call across two processes, each message costs the processes h + (P - 2) d and Redis
    r + (P - 2) e, so

        relays/s <= min(P / (h + (P - 2) d), 1 / (r + (P - 2) e))

    and the processes' bound tends to 1 / d however many cores there are. Joining the same way,
    from the join phase (CPU 0 full too): users/s <= min(P / jh, 1 / jr), jh and jr the processes'
    and Redis's CPU per user joined. Each CPU share is per step, over the step's wall time, divided
    by what the step delivered (relays, from the first send to the end of the drain) or joined.
    The costs are measured with the processes and Redis on one core (context switches among them
    included, no cross-core wake-ups): an estimate, not a measurement.
    """
    sat = pair["saturation"]["ice"]
    best = next(s for s in sat["steps"] if s["window"] == sat["at_window"])
    h = _us_per(best["cpu"], PROCESSES, best["delivered_total"])
    r = _us_per(best["cpu"], "redis", best["delivered_total"])
    steps = pair.get("bystander", {}).get("ice") or {}
    without, beside = steps.get("without"), steps.get("with")
    d = e = None
    if without and beside:
        d = _us_per(beside["cpu"], "bystander", beside["delivered"])
        r_with = _us_per(beside["cpu"], "redis", beside["delivered"])
        r_without = _us_per(without["cpu"], "redis", without["delivered"])
        if r_with is not None and r_without is not None:
            e = round(max(r_with - r_without, 0.0), 1)
    join = pair["connect_join"]
    jh = _us_per(join["cpu"], PROCESSES, join["joined"])
    jr = _us_per(join["cpu"], "redis", join["joined"])
    out = {
        "join_per_s": join["rate_per_s"],
        "join_process_us_per_user": jh,
        "join_redis_us_per_user": jr,
        "saturation_per_s": sat["max_delivered_per_s"],
        "process_us_per_relay": h,
        "redis_us_per_relay": r,
        "bystander_rate_per_s": steps.get("rate"),
        "bystander_us_per_relay": d,
        "redis_us_per_relay_per_extra_process": e,
        "predicted": None,
    }
    if None in (h, r, d, e) or not h:
        return out
    one = single["saturation"]["ice"]["max_delivered_per_s"] if single else None
    one_join = single["connect_join"]["rate_per_s"] if single else None
    out["predicted"] = []
    for n in cores:
        procs = n - 1
        by_processes = procs * 1e6 / (h + (procs - 2) * d)
        redis_cost = r + (procs - 2) * e
        by_redis = 1e6 / redis_cost if redis_cost > 0 else None
        relays = min(b for b in (by_processes, by_redis) if b is not None)
        join_bounds = [b for b in (procs * 1e6 / jh if jh else None, 1e6 / jr if jr else None) if b]
        joins = min(join_bounds) if join_bounds else None
        out["predicted"].append(
            {
                "cores": n,
                "processes": procs,
                "max_relays_per_s": round(relays),
                "bound": "processes" if by_redis is None or by_processes <= by_redis else "redis",
                "processes_bound_per_s": round(by_processes),
                "redis_bound_per_s": round(by_redis) if by_redis else None,
                "vs_one_process": round(relays / one, 2) if one else None,
                "join_per_s": round(joins) if joins else None,
                "join_vs_one_process": round(joins / one_join, 2) if joins and one_join else None,
            }
        )
    out["processes_limit_per_s"] = round(1e6 / d) if d else None
    return out


def multi_generator_cpu(pair: dict) -> dict:
    """Server (all of it) / generator / others, and each part of the server, in every phase of a pair."""
    keep = ("server_percent", "generator_percent", "others_percent", "contended", "parts_percent")
    rows = {
        "connect_join": pair["connect_join"]["cpu"],
        "relay_ice": pair["relay_latency"]["ice"]["cpu"],
        "saturation_ice": pair["saturation"]["ice"]["cpu_at_max"],
        "bystander_ice_without": pair["bystander"]["ice"]["without"]["cpu"],
        "bystander_ice_with": pair["bystander"]["ice"]["with"]["cpu"],
    }
    return {phase: {k: cpu.get(k) for k in keep} for phase, cpu in rows.items()}


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def latest(quick: bool = False) -> list[Path]:
    """The newest results file of each mode (full runs unless `quick`)."""
    newest: dict[str, Path] = {}
    for path in sorted(RESULTS.glob("*.json")):
        is_quick = "-quick-" in path.name
        if is_quick == quick:
            newest[path.stem.rsplit("-", 1)[1]] = path
    return list(newest.values())


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}" if value is not None and base else "–"


def markdown(results: list[dict]) -> str:
    """The table of docs/benchmarks.md: each mode's app, the Node baseline, and app/node.

    With each mode's Flask-SocketIO relay too, and app/flask, for the files that have one.
    """
    if not results:
        return "(no results)"
    node = headlines(results[0]["node"])
    apps = {r["mode"]: headlines(r["app"]) for r in results}
    flasks = {r["mode"]: headlines(r["flask_relay"]) for r in results if r.get("flask_relay")}
    labels = {key: label for key, label, _ in HEADLINES}
    order = [key for key in labels if key in node] + [key for key in node if key not in labels]
    head = ["figure"] + [f"app {m}" for m in apps] + [f"flask relay {m}" for m in flasks]
    head += ["Node baseline"] + [f"{m} / node" for m in apps] + [f"{m} / flask" for m in flasks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in order:
        label = labels.get(key) or f"memory per idle user at {key.rsplit('_', 1)[1]} users (KiB)"
        cells = [label] + [_fmt(a.get(key)) for a in apps.values()]
        cells += [_fmt(f.get(key)) for f in flasks.values()] + [_fmt(node[key])]
        cells += [_ratio(a.get(key), node[key]) for a in apps.values()]
        cells += [_ratio(apps[m].get(key), f.get(key)) for m, f in flasks.items()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_markdown(results: list[dict]) -> str:
    """CPU percent of one core, server / generator / everything else, per phase and target."""
    if not results:
        return "(no results)"

    def flat(rows: dict) -> dict:
        out = {phase.replace("_", " "): row for phase, row in rows.items() if phase != "memory_join"}
        out.update({f"memory: join up to {row['users']} users": row for row in rows["memory_join"]})
        return out

    columns = [(f"app {r['mode']}", flat(r["generator_cpu"]["app"])) for r in results]
    columns += [
        (f"flask relay {r['mode']}", flat(r["generator_cpu"]["flask_relay"]))
        for r in results
        if "flask_relay" in r["generator_cpu"]
    ]
    columns.append(("Node baseline", flat(results[0]["generator_cpu"]["node"])))
    head = ["phase"] + [name for name, _ in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for phase in columns[-1][1]:
        cells = [phase]
        for _, rows in columns:
            row = rows.get(phase)
            if not row:
                cells.append("–")
                continue
            server, gen, others = (row[k] for k in ("server_percent", "generator_percent", "others_percent"))
            mark = " (contended)" if row.get("contended") else ""
            cells.append(f"{server:.0f} / {gen:.0f} / {others:.0f}{mark}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# Figure 5's rows: (route, load) and their labels.
CALL_SETUP_ROWS = [
    (("direct", "idle"), "direct, idle"),
    (("direct", "under_load"), "direct, under load"),
    (("relay", "idle"), "relay, idle"),
    (("relay", "under_load"), "relay, under load"),
]


def call_setup_routes(result: dict) -> dict:
    """A run's figure 5 as {route: {load: leaf}}; the old layout ({load: leaf}) is the direct route."""
    figure = result.get("call_setup") or {}
    return {"direct": figure} if "idle" in figure or "under_load" in figure else figure


def _p50_p90(side: dict | None) -> str:
    return f"{_fmt(side['p50_ms'])} ({_fmt(side['p90_ms'])})" if side else "–"


def call_setup_markdown(results: list[dict]) -> str:
    """Figure 5: Accept to first remote frame, p50 (p90) ms, the app and the floor of each mode's run."""
    if not results:
        return "(no results)"
    head = ["call setup, p50 (p90) ms"]
    for r in results:
        head += [f"app {r['mode']}", f"floor ({r['mode']} run)", f"{r['mode']} / floor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    routes = [call_setup_routes(r) for r in results]
    for (route, load), label in CALL_SETUP_ROWS:
        cells = [label]
        for figure in routes:
            leaf = figure.get(route, {}).get(load) or {}
            measured = "skipped" not in leaf and "app" in leaf
            cells += [_p50_p90(leaf["app"]), _p50_p90(leaf["floor"])] if measured else ["–", "–"]
            cells.append(_fmt(leaf.get("ratio_p50")) if measured else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def multi_markdown(results: list[dict]) -> str:
    """The figures across processes: each mode's app pair, the Node pair, app / node, pair / one process."""
    multi = [r for r in results if "app" in r.get("multi", {})]
    if not multi:
        return "(no results across processes)"
    measured = [r for r in multi if "skipped" not in r["multi"]["app"]]
    apps = {f"app {r['mode']} ×2": multi_headlines(r["multi"]["app"]) for r in measured}
    singles = {f"app {r['mode']} ×2": multi_headlines(r["app"]) for r in measured}
    node = multi[0]["multi"]["node"]
    n = multi_headlines(node) if "skipped" not in node else {}
    n1 = multi_headlines(multi[0]["node"]) if n else {}
    head = ["figure", *apps, "Node ×2", *(f"{a} / node ×2" for a in apps)]
    head += [f"{a} / one process" for a in apps] + (["Node ×2 / one process"] if n else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, _ in MULTI_HEADLINES:
        cells = [label] + [_fmt(a[key]) for a in apps.values()] + [_fmt(n.get(key))]
        cells += [_ratio(a[key], n.get(key)) for a in apps.values()]
        cells += [_ratio(a[key], singles[name][key]) for name, a in apps.items()]
        cells += [_ratio(n[key], n1[key])] if n else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scaling_markdown(results: list[dict]) -> str:
    """scaling()'s inputs and estimates for each pair of the run."""
    columns = []
    for r in results:
        scale = r.get("multi", {}).get("scaling", {})
        if "app" in scale:
            columns.append((f"app {r['mode']} ×2", scale["app"]))
    node = next(
        (r["multi"]["scaling"]["node"] for r in results if "node" in r.get("multi", {}).get("scaling", {})),
        None,
    )
    if node:
        columns.append(("Node ×2", node))
    if not columns:
        return "(no scaling estimate)"
    rows = [
        ("join, both processes and Redis on one core (users/s)", lambda s: s.get("join_per_s")),
        ("processes' CPU per user joined, jh (µs)", lambda s: s.get("join_process_us_per_user")),
        ("Redis's CPU per user joined, jr (µs)", lambda s: s.get("join_redis_us_per_user")),
        ("saturation, both processes and Redis on one core (relays/s)", lambda s: s["saturation_per_s"]),
        ("processes' CPU per relay, h (µs)", lambda s: s["process_us_per_relay"]),
        ("Redis's CPU per relay, r (µs)", lambda s: s["redis_us_per_relay"]),
        ("the bystander's steps (relays/s)", lambda s: s.get("bystander_rate_per_s")),
        ("a process with no user, per relay, d (µs)", lambda s: s["bystander_us_per_relay"]),
        ("Redis per relay per extra process, e (µs)", lambda s: s["redis_us_per_relay_per_extra_process"]),
    ]
    for n in SCALING_CORES:
        rows.append(
            (
                f"estimate, {n} cores: {n - 1} processes (relays/s, bound)",
                lambda s, n=n: next(
                    (
                        f"{_fmt(p['max_relays_per_s'])} ({p['bound']})"
                        for p in s["predicted"] or []
                        if p["cores"] == n
                    ),
                    None,
                ),
            )
        )
    rows.append(("processes' limit, 1 / d (relays/s)", lambda s: s.get("processes_limit_per_s")))
    for n in SCALING_CORES:
        rows.append(
            (
                f"estimate, {n} cores: join (users/s)",
                lambda s, n=n: next((p["join_per_s"] for p in s["predicted"] or [] if p["cores"] == n), None),
            )
        )
    head = ["scaling"] + [name for name, _ in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, get in rows:
        lines.append("| " + " | ".join([label] + [_fmt(get(s)) for _, s in columns]) + " |")
    return "\n".join(lines)


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or latest() or latest(quick=True)
    results = [json.loads(p.read_text()) for p in paths]
    print(markdown(results))
    print()
    print(cpu_markdown(results))
    print()
    print(call_setup_markdown(results))
    if any("app" in r.get("multi", {}) for r in results):
        print()
        print(multi_markdown(results))
        print()
        print(scaling_markdown(results))


if __name__ == "__main__":
    main()
