"""TURN credentials (chat/turn/credentials.py) in coturn's REST API scheme: one username per credential."""

import pytest

from chat.turn.credentials import turn_credentials
from tests.support.turn_rest_api import USERNAME, hmac_password


def test_turn_credentials_follow_the_rest_api_scheme():
    username, password = turn_credentials("s3cret", "alice", ttl=600, now=1_700_000_000.7, nonce="n0nce")
    assert username == "1700000600:alice/n0nce"
    assert password == hmac_password("s3cret", "1700000600:alice/n0nce")


@pytest.mark.parametrize("name", ["alice", "a.b_c-d", "-x_", "x" * 32])
def test_every_turn_credential_has_a_username_of_its_own(name):
    # coturn's user-quota counts allocations per username (past the expiry):
    # one credential's allocations must not count against another's.
    usernames = {turn_credentials("s3cret", name, ttl=600, now=1_700_000_000.0)[0] for _ in range(100)}
    assert len(usernames) == 100
    for username in usernames:
        match = USERNAME.fullmatch(username)
        assert match, username
        # The name can be read back, and only one way: "/" is in neither a name nor a nonce.
        assert (match["expiry"], match["name"]) == ("1700000600", name)
        assert username.count("/") == 1
