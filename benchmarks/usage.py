"""CPU use during a phase: the server's, the generator's, each core's, and everyone else's.

Reported beside every figure, so that neither the load generator nor another
program on the machine is the unseen bottleneck.
"""

import os
import time
from dataclasses import dataclass

from benchmarks.servers import GENERATOR_CPU, SERVER_CPU, core_times, cpu_seconds

# A phase during which other programs used more than this (percent of one core) is marked contended.
CONTENDED_PERCENT = 20.0


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class Snapshot:
    wall: float
    server: float
    generator: float
    own: float
    cores: dict[int, tuple[float, float]]
    parts: dict[str, float]

    @classmethod
    def take(cls, server_pids: list[int], generator_pid: int, parts: dict[str, list[int]]) -> "Snapshot":
        return cls(
            wall=time.monotonic(),
            server=sum(cpu_seconds(pid) for pid in server_pids),
            generator=cpu_seconds(generator_pid),
            own=_own_seconds(),
            cores=core_times(),
            parts={name: sum(cpu_seconds(pid) for pid in pids) for name, pids in parts.items()},
        )


class Usage:
    """Measure CPU use between start() and stop(); stop() returns percentages of one core.

    `parts` (name -> pids, all among server_pids) are reported one by one too, in `parts_percent`:
    a pair of processes and their Redis, whose sum is the server's.
    """

    def __init__(self, server_pids: list[int], generator_pid: int, parts: dict[str, list[int]] | None = None):
        self.server_pids = server_pids
        self.generator_pid = generator_pid
        self.parts = dict(parts or {})
        self.before: Snapshot | None = None

    def start(self) -> "Usage":
        self.before = Snapshot.take(self.server_pids, self.generator_pid, self.parts)
        return self

    def stop(self) -> dict:
        after = Snapshot.take(self.server_pids, self.generator_pid, self.parts)
        before = self.before
        wall = max(after.wall - before.wall, 1e-9)

        def pct(seconds: float) -> float:
            return round(100 * seconds / wall, 1)

        cores = {}
        for core, (busy, total) in after.cores.items():
            busy0, total0 = before.cores.get(core, (busy, total))
            cores[core] = round(100 * (busy - busy0) / max(total - total0, 1e-9), 1)
        server = after.server - before.server
        generator = after.generator - before.generator
        own = after.own - before.own
        all_busy = sum(cores.values()) * wall / 100
        parts = {name: pct(after.parts[name] - before.parts[name]) for name in self.parts}
        return {
            "wall_s": round(wall, 3),
            "server_percent": pct(server),
            "generator_percent": pct(generator),
            "orchestrator_percent": pct(own),
            "server_core_busy_percent": cores.get(SERVER_CPU),
            "generator_core_busy_percent": cores.get(GENERATOR_CPU),
            # Everything else that ran meanwhile (other programs, the kernel's softirq work).
            "others_percent": pct(max(all_busy - server - generator - own, 0.0)),
            # Other programs took a noticeable share of the machine: the figure may be low.
            "contended": pct(max(all_busy - server - generator - own, 0.0)) > CONTENDED_PERCENT,
            **({"parts_percent": parts} if parts else {}),
        }


def machine_busy_percent(seconds: float = 1.0) -> float:
    """Percent of all cores busy over the next `seconds`."""
    before = core_times()
    time.sleep(seconds)
    after = core_times()
    busy = sum(after[c][0] - before[c][0] for c in after)
    total = sum(after[c][1] - before[c][1] for c in after)
    return round(100 * busy / max(total, 1e-9), 1)


def wait_for_quiet(max_wait: float, threshold: float = 10.0) -> dict:
    """Wait up to `max_wait` seconds for the machine to be idle (under `threshold` percent busy)."""
    start = time.monotonic()
    busy = machine_busy_percent()
    while busy > threshold and time.monotonic() - start < max_wait:
        busy = machine_busy_percent(2.0)
    return {
        "busy_percent": busy,
        "waited_s": round(time.monotonic() - start, 1),
        "quiet": busy <= threshold,
        "loadavg": os.getloadavg()[0],
    }
