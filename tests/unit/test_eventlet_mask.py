"""The fast WebSocket unmasking gives exactly what eventlet's own does."""

import os
import subprocess
import sys
import warnings

import pytest

from chat.serving.eventlet_mask import apply_mask
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def eventlets_own():
    with warnings.catch_warnings():
        # eventlet warns on import that it is deprecated.
        warnings.simplefilter("ignore")
        from eventlet.websocket import RFC6455WebSocket
    return RFC6455WebSocket.__dict__["_apply_mask"].__func__


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 200, 5400, 65536])
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 7])
def test_it_matches_eventlets_unmasking(eventlets_own, length, offset):
    data = os.urandom(length)
    mask = tuple(os.urandom(4))
    expected = eventlets_own(data, mask, length=length, offset=offset)
    assert apply_mask(data, mask, length=length, offset=offset) == expected
    assert apply_mask(data, mask, offset=offset) == eventlets_own(data, mask, offset=offset)


def test_masking_twice_gives_the_data_back():
    data, mask = os.urandom(1000), tuple(os.urandom(4))
    assert apply_mask(apply_mask(data, mask), mask) == data


@pytest.mark.parametrize("mode, installed", [("eventlet", True), ("gevent", False), ("threading", False)])
def test_it_is_installed_in_eventlet_mode_only(mode, installed):
    script = (
        "from chat import create_app\n"
        f"create_app({{'APP_ENV': 'testing', 'ASYNC_MODE': {mode!r}}})\n"
        "from chat.serving.eventlet_mask import apply_mask\n"
        "from eventlet.websocket import RFC6455WebSocket as W\n"
        "print(W.__dict__['_apply_mask'].__func__ is apply_mask)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(installed)
