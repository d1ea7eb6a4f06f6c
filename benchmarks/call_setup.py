"""Figure 5: call setup in Chromium, from Accept to the first remote video frame on both sides.

Two Chromium processes (one per person, as two machines would be) call each
other again and again: once through the app (its pages, its signaling, its
/ice-servers), once through the floor, a pair of bare pages
(benchmarks/floor/) that do only what any call must do (getUserMedia, one
offer and one answer, trickle ICE) over the Node baseline relay. Each call is
timed in the pages themselves, on the clock of performance.timeOrigin +
performance.now(), which two pages on one machine share:

- accept: the callee's click on Accept (a capture listener in the app's page,
  the click handler in the floor's);
- first frame: the first requestVideoFrameCallback of the remote <video> of
  each side, registered when its stream is set (before any frame can show).

A call's setup time is the later of the two sides' first frames minus the
accept. run() gives p50 and p90 of those, each side's times, and the route
that every call took ("direct", or "relay" through a TURN server).

There are two routes: direct (the app started without TURN settings, the
floor with no ICE servers), and relay, through a loopback coturn (coturn()):
the app started with relay_settings(), which make it relay every call, and
the floor pages given floor_turn() credentials and iceTransportPolicy
"relay". `make bench` (benchmarks/run.py) measures both, each idle and under
figure 2's load, as "call_setup": {"direct": {"idle": ..., "under_load": ...},
"relay": {...}}; --standalone here starts everything it needs for either.

    python -m benchmarks.call_setup --standalone            # starts all it needs
    python -m benchmarks.call_setup --app URL --floor URL [--turn-url U --turn-secret S]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium with a synthetic camera and microphone, as tests/browser/conftest.py runs it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Calls measured after one call that is not: the first call of a page pays
# for loading codecs and warming the JIT, which no later call does.
WARMUP_CALLS = 1
# Timeouts, in ms, of the steps of one call; none is near when things work.
PAGE_TIMEOUT_MS = 15_000
FRAME_TIMEOUT_MS = 30_000
ROUTE_TIMEOUT_MS = 10_000
# A pause after each call, so that tearing one call down does not overlap setting up the next.
SETTLE_S = 0.5
# A little more than the app's 300 ms pause between typing a name and asking about it (main.js).
WATCH_DELAY_S = 0.5
# The most the two pages' clocks may differ (ms) before the figures are refused.
CLOCK_SKEW_LIMIT_MS = 5.0
# The app lets one user place CALLS_PER_MINUTE (default 10) calls a minute:
# the two pages take turns calling, and join again under new names this often.
CALLS_PER_NAMES = 16
# How long to wait out the app's rate limit of calls from one address before giving up.
RATE_LIMIT_WAIT_S = 65.0

# The app's page, timed from outside its code: the click on Accept, and the
# first frame of the remote video, watched from each time its stream is set.
APP_INSTRUMENT = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  const bench = (window.bench = { acceptAt: null, firstFrameAt: null, armed: false });
  window.benchArm = () => Object.assign(bench, { acceptAt: null, firstFrameAt: null, armed: true });
  const watch = (video) => video.requestVideoFrameCallback(() => {
    if (bench.armed && bench.firstFrameAt === null) bench.firstFrameAt = now();
  });
  document.addEventListener("click", (e) => {
    if (e.target.closest && e.target.closest("#accept")) bench.acceptAt = now();
  }, true);
  // Media events do not bubble, but they are seen on the way down.
  document.addEventListener("loadstart", (e) => {
    if (e.target.id === "remote-video") watch(e.target);
  }, true);
})();"""
# With trace=True, both kinds of page also log when each step of a call
# happens, from outside their code: the peer connection's events, the
# Socket.IO messages in and out (after the upgrade to WebSocket), and fetch().
# Each call's marks are taken relative to the accept, and summarize() gives
# the median of each step's first time.
TRACE = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  let marks = [];
  const mark = (what) => marks.push([what, now()]);
  window.benchTrace = { reset: () => { marks = []; }, marks: () => marks };
  const NativePC = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const pc = new NativePC(...args);
    mark("pc created");
    const on = (event, what) => pc.addEventListener(event, (e) => mark(what(e)));
    on("signalingstatechange", () => "signaling " + pc.signalingState);
    on("icegatheringstatechange", () => "gathering " + pc.iceGatheringState);
    on("iceconnectionstatechange", () => "ice " + pc.iceConnectionState);
    on("connectionstatechange", () => "connection " + pc.connectionState);
    on("track", (e) => "track " + e.track.kind);
    on("icecandidate", (e) => (e.candidate ? "candidate " + e.candidate.type : "candidates done"));
    return pc;
  };
  window.RTCPeerConnection.prototype = NativePC.prototype;
  const packet = (direction, data) => {
    const event = typeof data === "string" && /^42\\d*\\["([^"]+)"/.exec(data);
    if (!event) return;
    const kind = event[1] !== "signal" ? ""
      : data.includes('"candidate"') ? " candidate" : data.includes('"offer"') ? " offer" : " answer";
    mark(direction + " " + event[1] + kind);
  };
  const NativeWS = window.WebSocket;
  window.WebSocket = class extends NativeWS {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => packet("in", e.data));
    }
    send(data) {
      packet("out", data);
      return super.send(data);
    }
  };
  const nativeFetch = window.fetch;
  window.fetch = async (...args) => {
    mark("fetch " + String(args[0]));
    try {
      return await nativeFetch(...args);
    } finally {
      mark("fetched " + String(args[0]));
    }
  };
})();"""
# "Hide my IP address", remembered in this browser: relay only, even if the server allows direct calls.
HIDE_IP = "try { localStorage.setItem('hideIp', '1'); } catch {}"
WAIT_FRAME = "() => window.bench && window.bench.firstFrameAt !== null"
APP_IDLE = """() => {
  const call = document.getElementById("call");
  return call && !call.disabled && document.getElementById("in-call").hidden
    && document.getElementById("remote-video").srcObject === null;
}"""
APP_READY = """() => {
  const local = document.getElementById("local-video");
  return local && local.srcObject && local.srcObject.getVideoTracks().length > 0;
}"""
RATE_LIMITED = "Too many attempts"


class CallSetupError(RuntimeError):
    """A call could not be set up or measured; the message says which step and what the page showed."""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, linearly interpolated between the closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(samples: list[dict]) -> dict:
    """p50/p90 of "both sides" (the later first frame), and each side's times, in ms."""
    both = [s["both_ms"] for s in samples]
    caller = [s["caller_ms"] for s in samples]
    callee = [s["callee_ms"] for s in samples]
    return {
        "p50_ms": round(percentile(both, 50), 1),
        "p90_ms": round(percentile(both, 90), 1),
        "samples_ms": both,
        "caller_ms": caller,
        "callee_ms": callee,
        "caller_p50_ms": round(percentile(caller, 50), 1),
        "caller_p90_ms": round(percentile(caller, 90), 1),
        "callee_p50_ms": round(percentile(callee, 50), 1),
        "callee_p90_ms": round(percentile(callee, 90), 1),
        "routes": sorted({s["route"] for s in samples}),
        **({"trace": trace_summary(samples)} if samples[0]["trace"]["caller"] else {}),
    }


def trace_summary(samples: list[dict]) -> dict:
    """For each side, the median time (ms after accept) of the first occurrence of each traced step."""
    out = {}
    for side in ("caller", "callee"):
        firsts: dict[str, list[float]] = {}
        for sample in samples:
            seen: dict[str, float] = {}
            for what, at in sample["trace"][side]:
                seen.setdefault(what, at)
            for what, at in seen.items():
                firsts.setdefault(what, []).append(at)
        # A step seen in only some calls (a stray candidate) is marked with how many.
        steps = {
            what + ("" if len(times) == len(samples) else f" ({len(times)}/{len(samples)})"): round(
                percentile(times, 50), 1
            )
            for what, times in firsts.items()
        }
        out[side] = dict(sorted(steps.items(), key=lambda item: item[1]))
    return out


class Person:
    """One person: a browser context of their own Chromium, and its page."""

    def __init__(self, browser: Browser, tag: str, trace: bool = False):
        self.tag = tag
        self.trace = trace
        self.context: BrowserContext = browser.new_context()
        if trace:
            self.context.add_init_script(TRACE)
        self.context.set_default_timeout(PAGE_TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.name = ""
        self.console: list[str] = []
        self.page.on("console", lambda msg: self._log(f"console.{msg.type}: {msg.text}"))
        self.page.on("pageerror", lambda err: self._log(f"page error: {err}"))

    def _log(self, line: str) -> None:
        self.console = [*self.console[-19:], line]

    def bench(self) -> dict:
        return self.page.evaluate("() => window.bench")

    def clock_offset(self) -> float:
        """How far (ms) this page's performance.timeOrigin + now() is from this process's clock.

        From the quickest of a few round trips, whose midpoint is taken as the page's moment.
        """
        trips = []
        for _ in range(5):
            before = time.time() * 1000
            page_ms = self.page.evaluate("() => performance.timeOrigin + performance.now()")
            after = time.time() * 1000
            trips.append((after - before, page_ms - (before + after) / 2))
        return min(trips)[1]

    def marks(self, since: float) -> list[list]:
        """This call's trace: [step, ms after `since`] in order, or [] without trace."""
        if not self.trace:
            return []
        marks = self.page.evaluate("() => window.benchTrace.marks()")
        return [[what, round(at - since, 1)] for what, at in marks]

    def wait(self, script: str, what: str, timeout: float = PAGE_TIMEOUT_MS, arg: Any = None) -> None:
        try:
            self.page.wait_for_function(script, arg=arg, timeout=timeout)
        except PlaywrightTimeoutError:
            raise CallSetupError(
                f"{self.tag} ({self.name}): {what} did not happen within "
                f"{timeout / 1000:g} s. {self.describe()}"
            ) from None

    def describe(self) -> str:
        try:
            shown = self.page.evaluate(
                "() => (document.getElementById('status') || document.getElementById('phase') || {})"
                ".textContent"
            )
            bench = self.bench()
        except PlaywrightError as err:
            shown, bench = f"(unreadable: {err})", None
        logged = "\n  ".join(self.console[-10:]) or "(nothing)"
        return f"The page shows {shown!r}; window.bench = {bench}; its console:\n  {logged}"

    def close(self) -> None:
        # An error here means the browser is already gone; run() reports why.
        with suppress(PlaywrightError):
            self.context.close()


class AppTarget:
    """The app: its own pages, joined through the form, calls placed and answered with its buttons."""

    label = "app"

    def __init__(self, url: str, relay: bool):
        self.url = url.rstrip("/")
        self.relay = relay

    def open(self, person: Person, name: str) -> None:
        person.context.add_init_script(APP_INSTRUMENT)
        if self.relay:
            person.context.add_init_script(HIDE_IP)
        person.page.goto(self.url + "/")
        self.join(person, name)

    def join(self, person: Person, name: str) -> None:
        page = person.page
        person.name = name
        page.get_by_label("Your name").fill(name)
        page.get_by_role("button", name="Join").click()
        person.wait(
            "n => { const me = document.getElementById('my-id'); return me && me.textContent.endsWith(n); }",
            f"joining as {name}",
            arg=name,
        )
        person.wait(APP_READY, "the camera (getUserMedia)")
        person.wait(APP_IDLE, "the idle call screen")
        if self.relay and not page.locator("#hide-ip").is_checked():
            raise CallSetupError(
                f"Relay calls were asked for, but the app at {self.url} has no TURN relay "
                "('Hide my IP address' cannot be checked): start it with TURN_URLS and TURN_SECRET."
            )

    def rejoin(self, person: Person, name: str) -> None:
        """Leave (the name is given up at once) and join under a new name, in the same page."""
        person.page.get_by_role("button", name="Leave").click()
        person.page.get_by_label("Your name").wait_for()
        self.join(person, name)

    def call(self, caller: Person, callee: Person) -> None:
        for person in (caller, callee):
            person.page.evaluate("() => window.benchArm()")
        deadline = time.monotonic() + RATE_LIMIT_WAIT_S
        while True:
            # The line still tells how the last call ended: clear it to see the answer to this one.
            caller.page.evaluate("() => { document.getElementById('status').textContent = ''; }")
            if caller.page.locator("#peer").input_value() != callee.name:
                caller.page.locator("#peer").fill(callee.name)
                # Typing a name asks the server, 300 ms later, whether that person is online:
                # let that happen now rather than in the middle of the call being timed.
                time.sleep(WATCH_DELAY_S)
            caller.page.locator("#call").click()
            caller.wait("() => document.getElementById('status').textContent !== ''", "the answer to Call")
            text = caller.page.locator("#status").text_content() or ""
            if RATE_LIMITED not in text:
                break
            if time.monotonic() > deadline:
                raise CallSetupError(f"The app still refuses calls as rate limited: {text!r}")
            print(
                f"call_setup: the app at {self.url} rate-limits calls ({text!r}); waiting. Start it "
                "with CALLS_PER_MINUTE, CALLS_PER_MINUTE_PER_ADDRESS and REPEAT_CALLS high for benchmarks.",
                file=sys.stderr,
            )
            time.sleep(5)
        if not text.startswith("Calling"):
            raise CallSetupError(f"{caller.tag} ({caller.name}) could not call {callee.name}: {text!r}")
        callee.wait("() => document.getElementById('ring-dialog').open", "the ring")
        callee.page.locator("#accept").click()

    def route(self, person: Person) -> str:
        route = person.page.locator("#route")
        try:
            route.wait_for(state="visible", timeout=ROUTE_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            raise CallSetupError(f"{person.tag}: no route shown. {person.describe()}") from None
        return "relay" if route.text_content() == "Through the relay" else "direct"

    def hangup(self, person: Person) -> None:
        person.page.locator("#hangup").click()

    def wait_idle(self, person: Person) -> None:
        person.wait(APP_IDLE, "the end of the call (idle page)")


class FloorTarget:
    """The floor: bare pages on the Node baseline relay, joined with an HTTP request."""

    label = "floor"

    def __init__(self, url: str, turn: dict | None):
        self.url = url.rstrip("/")
        self.relay = turn is not None
        self.config = (
            {"iceServers": [turn], "iceTransportPolicy": "relay"}
            if turn
            else {"iceServers": [], "iceTransportPolicy": "all"}
        )

    def open(self, person: Person, name: str) -> None:
        self.join(person, name)

    def join(self, person: Person, name: str) -> None:
        person.name = name
        request = person.context.request
        form = request.get(self.url + "/")
        token = re.search(r'name="csrf_token"\s+value="([^"]+)"', form.text())
        if not form.ok or not token:
            raise CallSetupError(f"GET {self.url}/ gave {form.status} and no csrf_token field")
        joined = request.post(
            self.url + "/join", form={"name": name, "csrf_token": token.group(1)}, max_redirects=0
        )
        if joined.status != 302:
            raise CallSetupError(
                f"POST {self.url}/join as {name} gave {joined.status}: {joined.text()[:200]}"
            )
        person.page.goto(self.url + "/floor/floor.html")
        person.wait("() => document.body.dataset.phase === 'idle'", "the floor page's start")
        person.page.evaluate("config => window.floor.configure(config)", self.config)

    def rejoin(self, person: Person, name: str) -> None:
        self.join(person, name)

    def call(self, caller: Person, callee: Person) -> None:
        caller.page.locator("#peer").fill(callee.name)
        caller.page.locator("#call").click()
        callee.wait("() => document.body.dataset.phase === 'ringing'", "the ring")
        callee.page.locator("#accept").click()

    def route(self, person: Person) -> str:
        try:
            handle = person.page.wait_for_function("() => window.floor.route()", timeout=ROUTE_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            raise CallSetupError(f"{person.tag}: no selected candidate pair. {person.describe()}") from None
        return handle.json_value()

    def hangup(self, person: Person) -> None:
        person.page.locator("#hangup").click()

    def wait_idle(self, person: Person) -> None:
        person.wait(
            "() => document.body.dataset.phase === 'idle'"
            " && document.getElementById('remote').srcObject === null",
            "the end of the call (idle page)",
        )


def one_call(target: AppTarget | FloorTarget, caller: Person, callee: Person) -> dict:
    """Place one call, time it, check its route, hang up and wait until both pages are idle."""
    if caller.trace:
        for person in (caller, callee):
            person.page.evaluate("() => window.benchTrace.reset()")
    target.call(caller, callee)
    for person in (callee, caller):
        person.wait(WAIT_FRAME, "the first remote video frame", timeout=FRAME_TIMEOUT_MS)
    accept_at = callee.bench()["acceptAt"]
    if accept_at is None:
        raise CallSetupError(f"{callee.tag}: the click on Accept was not seen. {callee.describe()}")
    caller_bench, callee_bench = caller.bench(), callee.bench()
    for person, bench in ((caller, caller_bench), (callee, callee_bench)):
        if bench.get("errors"):  # the floor page's own failures
            raise CallSetupError(f"{person.tag}: the page failed: {bench['errors']}. {person.describe()}")
    caller_ms = caller_bench["firstFrameAt"] - accept_at
    callee_ms = callee_bench["firstFrameAt"] - accept_at
    routes = {target.route(person) for person in (caller, callee)}
    expected = "relay" if target.relay else "direct"
    if routes != {expected}:
        raise CallSetupError(f"{target.label}: the call went {sorted(routes)}, not {expected} as asked")
    target.hangup(caller)
    for person in (caller, callee):
        target.wait_idle(person)
    time.sleep(SETTLE_S)
    return {
        "caller_ms": round(caller_ms, 1),
        "callee_ms": round(callee_ms, 1),
        "both_ms": round(max(caller_ms, callee_ms), 1),
        "route": expected,
        "trace": {"caller": caller.marks(accept_at), "callee": callee.marks(accept_at)},
    }


def _advance(progress: Any) -> None:
    if progress is None:
        return
    if hasattr(progress, "update"):
        progress.update(1)
    else:
        progress(1)


def measure(
    target: AppTarget | FloorTarget,
    browsers: list[Browser],
    calls: int,
    progress: Any = None,
    load: Callable[[str], AbstractContextManager] | None = None,
    warmup: int = WARMUP_CALLS,
    trace: bool = False,
) -> dict:
    """Join two people (one per browser), then time `warmup` + `calls` calls, the two taking turns to call."""
    run_id = uuid.uuid4().hex[:6]
    names = iter(f"bench-{run_id}-{n}{side}" for n in range(10_000) for side in "ab")
    tags = ("browser A", "browser B")
    people = [Person(browser, tag, trace) for browser, tag in zip(browsers, tags, strict=True)]
    try:
        for person in people:
            target.open(person, next(names))
        # Both pages' clocks must agree for "both sides" to mean anything: they read the same
        # system clock, so this is a check, not a correction.
        skew = abs(people[0].clock_offset() - people[1].clock_offset())
        if skew > CLOCK_SKEW_LIMIT_MS:
            raise CallSetupError(f"The two browsers' clocks differ by {skew:.1f} ms")
        samples = []
        with load(target.url) if load else nullcontext() as background:
            for n in range(warmup + calls):
                if n and n % CALLS_PER_NAMES == 0:
                    for person in people:
                        target.rejoin(person, next(names))
                caller, callee = people[n % 2], people[1 - n % 2]
                sample = one_call(target, caller, callee)
                if n >= warmup:
                    samples.append(sample)
                    _advance(progress)
    finally:
        for person in people:
            person.close()
    result = {**summarize(samples), "clock_skew_ms": round(skew, 2)}
    if background is not None:
        result["background_load"] = _load_figures(getattr(background, "background_result", None) or {})
    return result


def _load_figures(relay: dict) -> dict:
    """What the background load saw meanwhile: a latency of seconds means the server was overloaded."""
    latency = relay.get("latency") or {}
    return {
        "sent": relay.get("sent"),
        "delivered": relay.get("delivered"),
        **{key: latency.get(key) for key in ("p50_ms", "p99_ms", "max_ms")},
    }


def launch(playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise CallSetupError(f"{CHROMIUM} is missing: install Debian's chromium (`make system-packages`).")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def run(
    app_url: str,
    floor_url: str,
    calls: int,
    turn: dict | None,
    progress: Any = None,
    load: Callable[[str], AbstractContextManager] | None = None,
    trace: bool = False,
) -> dict:
    """Time `calls` calls through the app and as many through the floor; see the module's doc.

    turn: None for direct calls, or {"urls", "username", "credential"} of a TURN server that the
    floor pages use with iceTransportPolicy "relay" (the app relays by its own settings, and its
    pages here tick "Hide my IP address"). progress: a tqdm bar or a callable(1), advanced once per
    measured call (2 * calls in all). load: a factory of context managers, load(url), inside which
    each side is measured. trace: also log each step of each call (see TRACE), summed up as
    "trace" in each side's result.
    """
    if calls < 1:
        raise ValueError("calls must be at least 1")
    with sync_playwright() as playwright, ExitStack() as stack:
        browsers = []
        for _ in range(2):  # one Chromium process per person
            browser = launch(playwright)
            stack.callback(browser.close)
            browsers.append(browser)
        app = measure(AppTarget(app_url, turn is not None), browsers, calls, progress, load, trace=trace)
        floor = measure(FloorTarget(floor_url, turn), browsers, calls, progress, load, trace=trace)
    return {"app": app, "floor": floor, "ratio_p50": round(app["p50_ms"] / floor["p50_ms"], 2)}


# Trying it alone


def floor_turn(urls: list[str], secret: str, ttl: int = 3600) -> dict:
    """TURN credentials for the floor pages, made as the app makes its own (chat/turn/credentials.py)."""
    from chat.turn.credentials import turn_credentials

    username, credential = turn_credentials(secret, "floor", ttl, time.time())
    return {"urls": urls, "username": username, "credential": credential}


def relay_settings(turn_urls: list[str], secret: str) -> dict[str, str]:
    """The app's settings for the relay route: coturn's TURN (and STUN) URLs, its secret, relay only."""
    return {
        "TURN_URLS": ",".join(turn_urls),
        "TURN_SECRET": secret,
        "STUN_URLS": turn_urls[0].replace("turn:", "stun:").split("?")[0],
        "ICE_TRANSPORT_POLICY": "relay",
    }


def _wait_http(url: str, proc: subprocess.Popen, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CallSetupError(f"{what} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise CallSetupError(f"{what} did not answer {url} within {timeout:g} s")


@contextmanager
def node_baseline() -> Iterator[str]:
    """`node benchmarks/baseline/server.js` on a free port; yields its URL."""
    from scripts.stack import end_process, free_port

    script = ROOT / "benchmarks" / "baseline" / "server.js"
    if not script.exists():
        script = ROOT / "benchmarks" / "floor" / "stand_in_relay.js"
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(script)],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/", proc, f"node {script.relative_to(ROOT)}")
        yield url
    finally:
        end_process(proc)


@contextmanager
def app_server(**settings: str) -> Iterator[str]:
    """The app under gunicorn, as in production, with limits that a benchmark and its load never hit."""
    from tests.support.servers import LiveServer

    limits = {
        key: "1000000000"
        for key in ("JOIN_PER_MINUTE", "CALLS_PER_MINUTE", "CALLS_PER_MINUTE_PER_ADDRESS", "REPEAT_CALLS")
    }
    live = LiveServer(server="gunicorn", **limits, **settings)
    try:
        yield live.url
    finally:
        live.stop()


@contextmanager
def coturn() -> Iterator[tuple[list[str], str]]:
    """A loopback coturn, as the browser tests run it; yields its TURN URLs and shared secret.

    Raises CallSetupError if it does not start (tests.support.coturn reports that with pytest.fail()).
    """
    import tempfile

    import pytest

    from tests.support.coturn import TURN_TEST_CONFIG, Coturn

    secret = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="bench-coturn-") as tmp:
        config = Path(tmp) / "turnserver.conf"
        config.write_text(TURN_TEST_CONFIG)
        try:
            server = Coturn(config, "--static-auth-secret", secret)
        except pytest.fail.Exception as err:
            raise CallSetupError(f"coturn did not start: {err}") from None
        try:
            yield [f"turn:127.0.0.1:{server.port}?transport=udp"], secret
        finally:
            server.stop()


def standalone(
    calls: int, modes: list[str], progress: Any = None, trace: bool = False, load: Callable | None = None
) -> dict:
    """Start the app, the Node baseline and (for relay) a coturn, and measure each mode."""
    results = {}
    suffix = "+load" if load else ""
    with node_baseline() as floor_url:
        if "direct" in modes:
            with app_server() as app_url:
                results["direct" + suffix] = run(app_url, floor_url, calls, None, progress, load, trace)
        if "relay" in modes:
            with coturn() as (turn_urls, secret), app_server(**relay_settings(turn_urls, secret)) as app_url:
                turn = floor_turn(turn_urls, secret)
                results["relay" + suffix] = run(app_url, floor_url, calls, turn, progress, load, trace)
    return results


def _table(results: dict) -> str:
    lines = [f"{'mode':<12}{'side':<7}{'p50 ms':>9}{'p90 ms':>9}{'caller p50':>12}{'callee p50':>12}"]
    for mode, result in results.items():
        for side in ("app", "floor"):
            r = result[side]
            lines.append(
                f"{mode:<12}{side:<7}{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}"
                f"{r['caller_p50_ms']:>12.1f}{r['callee_p50_ms']:>12.1f}"
            )
        lines.append(f"{mode:<12}{'ratio':<7}{result['ratio_p50']:>9.2f}")
    return "\n".join(lines)


def _trace_table(results: dict) -> str:
    """Each traced step's median time after accept, side by side."""
    lines = []
    for mode, result in results.items():
        for target in ("app", "floor"):
            trace = result[target].get("trace")
            if not trace:
                continue
            lines.append(f"\n{mode} {target}: median ms after accept of each step's first time")
            for side in ("callee", "caller"):
                lines.extend(f"  {side:<7}{at:>8.1f}  {what}" for what, at in trace[side].items())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.call_setup", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--app", help="base URL of a running app, e.g. http://127.0.0.1:8000")
    parser.add_argument("--floor", help="base URL of a running Node baseline (benchmarks/baseline/server.js)")
    parser.add_argument("--calls", type=int, default=10, help="calls measured per set (default 10)")
    parser.add_argument("--turn-url", action="append", default=[], help="TURN URL for the floor (relay)")
    parser.add_argument("--turn-secret", help="coturn's static-auth-secret, as the app's TURN_SECRET")
    parser.add_argument(
        "--standalone", action="store_true", help="start the app, the baseline and coturn here"
    )
    parser.add_argument(
        "--mode", choices=["direct", "relay", "both"], default="both", help="with --standalone"
    )
    parser.add_argument(
        "--load", action="store_true", help="measure under benchmarks.loadgen.background_load()"
    )
    parser.add_argument("--trace", action="store_true", help="also time each step of a call (see TRACE)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    def show(_step: int) -> None:
        print(".", end="", file=sys.stderr, flush=True)

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load = None
    if args.load:
        from benchmarks.loadgen import background_load as load
    try:
        if args.standalone:
            modes = ["direct", "relay"] if args.mode == "both" else [args.mode]
            results = standalone(args.calls, modes, show, args.trace, load)
        elif args.app and args.floor:
            if bool(args.turn_url) != bool(args.turn_secret):
                parser.error("--turn-url and --turn-secret go together")
            turn = floor_turn(args.turn_url, args.turn_secret) if args.turn_secret else None
            results = {
                ("relay" if turn else "direct") + ("+load" if load else ""): run(
                    args.app, args.floor, args.calls, turn, show, load, args.trace
                )
            }
        else:
            parser.error("give --app and --floor, or --standalone")
    except CallSetupError as err:
        print(f"\ncall_setup failed: {err}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"started": started, **results}, indent=2) + "\n")
    print(f"Call setup, Accept to first remote frame on both sides ({args.calls} calls each, {started}):")
    print(_table(results))
    print(_trace_table(results))
    if not args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
