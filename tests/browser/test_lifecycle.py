"""The call lifecycle (chat/static/js/lifecycle.js) as data, run in Chromium on its own."""

from collections import deque

import pytest

pytestmark = pytest.mark.browser

PHASES = ["idle", "calling", "ringing", "accepting", "active", "moving", "elsewhere"]

# Apply `events` one by one to a fresh CallLifecycle; say what each returned,
# the phase after each, and which changes it reported.
RUN = """async (events) => {
  const { CallLifecycle } = await import("/static/js/lifecycle.js");
  const changes = [];
  const lifecycle = new CallLifecycle((phase, previous, event) => changes.push([previous, event, phase]));
  const steps = events.map((event) => [lifecycle.apply(event), lifecycle.phase]);
  return { steps, changes };
}"""


@pytest.fixture
def lifecycle(open_page):
    """A page of the app's origin, the module imported, and its table."""
    page = open_page("/")
    table = page.evaluate(
        """async () => {
          const m = await import("/static/js/lifecycle.js");
          const rows = Object.values(m.TRANSITIONS);
          const frozen = Object.isFrozen(m.TRANSITIONS) && rows.every((row) => Object.isFrozen(row));
          return { transitions: m.TRANSITIONS, phases: m.PHASES, events: m.EVENTS, frozen };
        }"""
    )
    return page, table


def run(page, events):
    return page.evaluate(RUN, events)


def paths_from_idle(transitions):
    """The shortest list of events from idle to each phase that can be reached."""
    paths = {"idle": []}
    queue = deque(["idle"])
    while queue:
        phase = queue.popleft()
        for event, to in transitions[phase].items():
            if to not in paths:
                paths[to] = paths[phase] + [event]
                queue.append(to)
    return paths


def test_the_table_is_frozen_and_names_only_its_own_phases(lifecycle):
    _, table = lifecycle
    assert table["frozen"]
    assert set(table["phases"]) == set(PHASES)
    for phase, row in table["transitions"].items():
        assert row, f"{phase} has no way out"
        assert set(row.values()) <= set(table["phases"]), (phase, row)


def test_every_phase_is_reachable_from_idle(lifecycle):
    page, table = lifecycle
    paths = paths_from_idle(table["transitions"])
    assert set(paths) == set(table["phases"])
    for phase, events in paths.items():
        result = run(page, events)
        assert all(step is not None for step, _ in result["steps"]), (phase, events, result)
        assert [to for _, to in result["steps"]][-1:] in ([], [phase]), (phase, events, result)
        assert len(result["changes"]) == len(events)


def test_an_event_a_phase_does_not_list_is_refused_and_changes_nothing(lifecycle):
    page, table = lifecycle
    paths = paths_from_idle(table["transitions"])
    for phase, row in table["transitions"].items():
        # Every event of the table that this phase lacks, and some that no phase has.
        for event in [e for e in table["events"] if e not in row] + ["no_such_event", "toString", ""]:
            result = run(page, paths[phase] + [event])
            assert result["steps"][-1] == [None, phase], (phase, event, result)
            assert len(result["changes"]) == len(paths[phase]), (phase, event, result)


@pytest.mark.parametrize(
    ("events", "phase"),
    [
        (["ring"], "ringing"),
        # Accepted in another page of mine: this one stops ringing.
        (["ring", "call_accepted"], "elsewhere"),
        (["place", "call_accepted"], "active"),
        (["ring", "accept", "accepted"], "active"),
        (["ring", "accept", "accepted", "call_ended"], "idle"),
        (["place", "call_accepted", "call_moved_by_me"], "elsewhere"),
        (["hello_active", "move_here", "moved"], "active"),
        (["hello_resume", "ack_refused"], "idle"),
        (["place", "cancel"], "idle"),
        (["ring", "decline"], "idle"),
        (["hello_calling", "hello_without_call"], "idle"),
    ],
)
def test_rows(lifecycle, events, phase):
    page, _ = lifecycle
    result = run(page, events)
    assert all(step is not None for step, _ in result["steps"]), result
    assert result["steps"][-1] == [phase, phase], result
    assert result["changes"][-1][1:] == [events[-1], phase], result


def test_a_refused_event_leaves_the_phase_and_a_move_to_the_same_phase_is_reported(lifecycle):
    page, _ = lifecycle
    result = run(page, ["place", "call_accepted", "ring", "accept", "call_moved_by_peer"])
    assert [step for step, _ in result["steps"]] == ["calling", "active", None, None, "active"]
    assert result["changes"] == [
        ["idle", "place", "calling"],
        ["calling", "call_accepted", "active"],
        # The peer reconnected: the page starts a new connection in the same phase.
        ["active", "call_moved_by_peer", "active"],
    ]
    # The page that asked to move waits for the answer, not for call_moved.
    result = run(page, ["hello_active", "move_here", "call_moved_by_me"])
    assert result["steps"][-1] == [None, "moving"]
