"""docs/protocol.md names every event and every error code the server can send."""

import re

from chat.errors import MESSAGES
from chat.signaling import protocol as p
from tests.live import ROOT

DOC = (ROOT / "docs" / "protocol.md").read_text()
EVENTS = [p.CALL, p.CANCEL, p.ACCEPT, p.DECLINE, p.HANGUP, p.SIGNAL, p.MOVE, p.WATCH]
EVENTS += [p.HELLO, p.RING, p.CALL_ACCEPTED, p.CALL_MOVED, p.CALL_ENDED, p.PRESENCE, p.SIGNED_OUT]


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
    client = table_rows("## Client to server")
    server = table_rows("## Server to client")
    assert set(EVENTS[:8]) <= client
    assert set(EVENTS[8:]) <= server | {p.SIGNAL}
    assert p.SIGNAL in server


def test_every_error_code_is_in_the_error_table():
    codes = table_rows("## Acknowledgements and errors")
    assert raised_codes() <= set(MESSAGES)  # none is made without its sentence
    assert set(MESSAGES) <= codes
    assert "timeout" in codes  # the client's own


def test_the_tables_name_nothing_the_server_lacks():
    assert table_rows("## Acknowledgements and errors") - {"timeout"} <= set(MESSAGES)
