"""`flask turn-config`: the shipped coturn config, fitted to the app's settings."""

from chat import create_app
from chat.turn.coturn_config import TEMPLATE

TURN = {
    "APP_ENV": "testing",
    "TURN_URLS": ["turn:turn.example.net:3479?transport=udp", "turns:turn.example.net:5350?transport=tcp"],
    "TURN_SECRET": "cli-test-secret",
}


def run(settings, *args):
    return create_app(settings).test_cli_runner().invoke(args=["turn-config", *args])


def settings_of(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_it_fits_the_shipped_config_to_the_turn_urls():
    result = run(TURN)
    assert result.exit_code == 0, result.output
    lines = settings_of(result.output)
    assert "realm=turn.example.net" in lines
    assert "listening-port=3479" in lines
    assert "tls-listening-port=5350" in lines
    # Everything else is the shipped file, line for line.
    changed = {"realm", "listening-port", "tls-listening-port"}
    shipped = [line for line in settings_of(TEMPLATE.read_text()) if line.split("=")[0] not in changed]
    assert [line for line in lines if line.split("=")[0] not in changed] == shipped


def test_the_secret_is_added_only_when_asked():
    assert "cli-test-secret" not in run(TURN).output
    lines = settings_of(run(TURN, "--with-secret").output)
    assert lines[-1] == "static-auth-secret=cli-test-secret"


def test_without_turn_urls_it_says_so():
    result = run({"APP_ENV": "testing"})
    assert result.exit_code != 0
    assert "TURN_URLS is not set" in result.output


def test_a_malformed_turn_url_is_named():
    result = run({**TURN, "TURN_URLS": ["http://turn.example.net"]})
    assert result.exit_code != 0
    assert "Not a TURN URL: 'http://turn.example.net'" in result.output
