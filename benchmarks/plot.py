"""PNG plots of results files into docs/benchmarks/.

    python -m benchmarks.plot [FILES]   # default: the newest full run of each mode

latency-vs-load.png: ICE relay latency p50 and p99 against the offered rate;
saturation.png: delivered relays per second against messages in flight;
memory.png: server RSS above its idle RSS against idle logged-in users.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.report import ROOT, latest  # noqa: E402

OUT = ROOT / "docs" / "benchmarks"
COLORS = {
    "node": "tab:green",
    "eventlet": "tab:blue",
    "gevent": "tab:orange",
    "flask-eventlet": "tab:purple",
    "flask-gevent": "tab:brown",
}


def _series(results: list[dict]) -> list[tuple[str, str, dict]]:
    """(label, color key, figures): each mode's app, then its Flask-SocketIO relay if any, then Node."""
    out = [(f"app, gunicorn {r['mode']}", r["mode"], r["app"]) for r in results]
    out += [
        (f"Flask-SocketIO relay, gunicorn {r['mode']}", f"flask-{r['mode']}", r["flask_relay"])
        for r in results
        if r.get("flask_relay")
    ]
    out.append(("Node baseline", "node", results[0]["node"]))
    return out


def latency_vs_load(results: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, key, figures in _series(results):
        points = [p for p in figures["latency_vs_load"]["ice"] if "latency" in p]
        rates = [p["rate"] for p in points]
        ax.plot(
            rates, [p["latency"]["p50_ms"] for p in points], "o-", color=COLORS[key], label=f"{label} p50"
        )
        ax.plot(
            rates, [p["latency"]["p99_ms"] for p in points], "s--", color=COLORS[key], label=f"{label} p99"
        )
    ax.set_xscale("log", base=2)
    rates = sorted({p["rate"] for r in results for p in r["node"]["latency_vs_load"]["ice"]})
    ax.set_xticks(rates, [str(r) for r in rates])
    ax.set_yscale("log")
    ax.set_xlabel("offered load (ICE-sized signal messages / s)")
    ax.set_ylabel("relay latency (ms)")
    ax.set_title("Relay latency against offered load (1,000 users in 500 calls)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def saturation(results: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, kind in zip(axes, ("ice", "offer"), strict=True):
        for label, key, figures in _series(results):
            steps = figures["saturation"][kind]["steps"]
            ax.plot(
                [s["window"] for s in steps],
                [s["delivered_per_s"] for s in steps],
                "o-",
                color=COLORS[key],
                label=label,
            )
        ax.set_xscale("log", base=2)
        windows = sorted({s["window"] for r in results for s in r["node"]["saturation"][kind]["steps"]})
        ax.set_xticks(windows, [str(w) for w in windows])
        ax.set_yscale("log")
        ax.set_xlabel("messages in flight (closed loop)")
        ax.set_ylabel("delivered relays / s")
        ax.set_title(f"Saturation, {kind}-sized messages")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def memory(results: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for label, key, figures in _series(results):
        points = figures["memory"]["points"]
        users = [p["users"] for p in points]
        axes[0].plot(users, [p["delta_kib"] / 1024 for p in points], "o-", color=COLORS[key], label=label)
        axes[1].plot(users, [p["per_user_kib"] for p in points], "o-", color=COLORS[key], label=label)
    axes[0].set_ylabel("RSS above idle (MiB)")
    axes[1].set_ylabel("RSS per idle user (KiB)")
    for ax in axes:
        ax.set_xlabel("idle logged-in users")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("Server memory against users")
    axes[1].set_title("Memory per user")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot(paths: list[Path], out: Path = OUT) -> list[Path]:
    """Draw the plots of these results files (one per mode); return the PNGs written."""
    results = [json.loads(Path(p).read_text()) for p in paths]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (("latency-vs-load", latency_vs_load), ("saturation", saturation), ("memory", memory)):
        path = out / f"{name}.png"
        draw(results, path)
        written.append(path)
    return written


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or latest()
    if not paths:
        sys.exit("no full results in benchmarks/results/; run `make bench` or name files")
    for path in plot(paths):
        print(path)


if __name__ == "__main__":
    main()
