import pytest

from chat.names import fold_name


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("alice", "alice"),
        ("Alice", "alice"),
        ("  BOB  ", "bob"),
        ("a", "a"),
        ("x" * 32, "x" * 32),
        ("first.last_2-b", "first.last_2-b"),
        ("..a", "..a"),
        ("-0-", "-0-"),
    ],
)
def test_valid_names_are_folded(raw, folded):
    assert fold_name(raw) == folded


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        ".",
        "..",
        "...",
        "-",
        "_.-",
        "x" * 33,
        "al ice",
        "<b>",
        "alice!",
        "élise",
        "a/b",
        "a:b",
        "名前",
        None,
        42,
        ["alice"],
    ],
)
def test_invalid_names_are_refused(raw):
    assert fold_name(raw) is None
