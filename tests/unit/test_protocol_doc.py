"""docs/protocol.md names every event and every error code the server can send."""

import re

from chat.errors import MESSAGES
from chat.signaling import dispatch
from chat.signaling import protocol as p
from tests.support.paths import ROOT

DOC = (ROOT / "docs" / "protocol.md").read_text()


def handled_events() -> set[str]:
    """The events a client may send: those with a handler."""
    return set(dispatch.HANDLERS)


def emitted_events() -> set[str]:
    """Every event the server emits anywhere in chat/: the protocol constant named in each emit(...)."""
    names = set()
    for path in (ROOT / "chat").rglob("*.py"):
        for constant in re.findall(r"\bemit\(\s*(?:p\.)?([A-Z_]+)\b", path.read_text()):
            names.add(getattr(p, constant))
    return names


def raised_codes() -> set[str]:
    """Every code a SignalingError is made with anywhere in chat/."""
    codes = set()
    for path in (ROOT / "chat").rglob("*.py"):
        codes |= set(re.findall(r'SignalingError\(\s*"([a-z_]+)"', path.read_text()))
    return codes


def table_rows(heading: str) -> set[str]:
    """The first-column codes of the table under `heading`."""
    section = DOC.split(heading, 1)[1]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section.split("\n#", 1)[0], re.MULTILINE))


def test_every_event_is_in_the_tables():
    handled, emitted = handled_events(), emitted_events()
    assert {p.CALL, p.ACCEPT, p.SIGNAL, p.WATCH} <= handled  # the scan finds what it must
    assert {p.HELLO, p.RING, p.SIGNAL, p.CALL_ENDED, p.PRESENCE, p.SIGNED_OUT} <= emitted
    assert handled <= table_rows("## Client to server")
    assert emitted <= table_rows("## Server to client")


def test_every_error_code_is_in_the_error_table():
    codes = table_rows("## Acknowledgements and errors")
    assert raised_codes() <= set(MESSAGES)  # none is made without its sentence
    assert set(MESSAGES) <= codes
    assert "timeout" in codes  # the client's own


def test_the_tables_name_nothing_the_server_lacks():
    assert table_rows("## Acknowledgements and errors") - {"timeout"} <= set(MESSAGES)
