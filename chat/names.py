"""User names: what is allowed and how it is folded."""

import re

NAME_RULE = (
    "1 to 32 characters: letters a-z, digits 0-9, dot, underscore or hyphen, "
    "with at least one letter or digit"
)
MAX_LENGTH = 32
# At least one letter or digit: "." and ".." would make invite links (/call/..) that collapse to /.
_NAME = re.compile(rf"(?=.*[a-z0-9])[a-z0-9._-]{{1,{MAX_LENGTH}}}")


def fold_name(raw: object) -> str | None:
    """Return the canonical form of a user name, or None if it is not allowed.

    Surrounding spaces are dropped and letters folded to lower case; anything
    else outside the rule makes the name invalid.
    """
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    name = raw.strip().lower()
    return name if _NAME.fullmatch(name) else None
