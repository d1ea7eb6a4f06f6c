"""The results file: the machine, every figure of the app and of both baselines, and their ratios.

`python -m benchmarks.report [FILES]` prints the Markdown tables of docs/benchmarks.md
from results files (default: the newest full run of each mode): the headline figures
against the Node baseline and, where the file has one ("flask_relay"; older
files have none), the minimal Flask-SocketIO relay of the same mode, the CPU of
each phase, and figure 5 (call setup in
Chromium), whose "call_setup" is {"direct"|"relay": {"idle"|"under_load": leaf}}
(older files have only the direct route's {"idle", "under_load"} at its top).
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
PACKAGES = ("flask", "flask-socketio", "python-socketio", "python-engineio", "gunicorn", "eventlet", "gevent")
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
        "packages": {
            name: _version(name)
            for name in (
                "flask",
                "flask-socketio",
                "python-socketio",
                "python-engineio",
                "gunicorn",
                "eventlet",
                "gevent",
            )
        },
        "baseline_packages": {
            "socket.io": lock["packages"]["node_modules/socket.io"]["version"],
            "engine.io": lock["packages"]["node_modules/engine.io"]["version"],
            "ws": lock["packages"]["node_modules/ws"]["version"],
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


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or latest() or latest(quick=True)
    results = [json.loads(p.read_text()) for p in paths]
    print(markdown(results))
    print()
    print(cpu_markdown(results))
    print()
    print(call_setup_markdown(results))


if __name__ == "__main__":
    main()
