"""Foreign text made safe for a terminal: no escape sequences, no control characters (no rich here)."""

from __future__ import annotations

import json
import re
from typing import Any

# Terminal escape sequences, 7-bit (ESC ...) and 8-bit (C1) forms: CSI (colours, cursor moves),
# OSC (window titles, OSC 8 links) up to BEL or ST, DCS/SOS/PM/APC strings, and two-byte escapes.
_ESCAPE_SEQUENCE = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]
    | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]) .*? (?:\x07|\x1b\\|\x9c)
    | \x1b [\x20-\x2f]* [\x30-\x7e]
    """,
    re.VERBOSE | re.DOTALL,
)
_LINE_BREAK = re.compile(r"\r\n|[\t\n\v\f\r\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """Text from GitHub, SMTP, a file or a user, safe to print: escape sequences and control characters
    removed, line breaks and tabs turned into spaces. Rich renderables take it as `Text`, never as markup."""
    return _CONTROL.sub("", _LINE_BREAK.sub(" ", _ESCAPE_SEQUENCE.sub("", str(text))))


def printable_lines(text: str) -> str:
    """Like `printable`, line by line: a multi-line text keeps its line breaks and loses everything else."""
    return "\n".join(printable(line) for line in text.split("\n"))


_JSON_UNESCAPED_CONTROL = re.compile(r"[\x7f-\x9f]")


def json_text(value: Any) -> str:
    """JSON for stdout, indented, non-ASCII kept readable, yet with no raw control character: json escapes
    C0 itself, but leaves DEL and C1 (0x9b is a one-byte CSI to a terminal) as they are. They occur only
    inside strings, where a \\u escape means the same."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _JSON_UNESCAPED_CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
