"""Text from outside (file and zip member names, headers) made safe to print on a terminal.

A file name may hold a newline (which would forge a second message line) or an ESC sequence
(which would recolour, move the cursor or retitle the terminal); both are shown escaped.
"""

from __future__ import annotations

import re

#: C0 and C1 control characters and DEL, but not tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def terminal_safe(text: object) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"),
                        str(text))
