"""Upstream text made safe to store and to print.

Error texts reach us from BigCommerce and Ometria (response excerpts, `error_message`), product
names from merchants. A terminal obeys escape sequences in them (clear screen, OSC 8 links, window
titles), so every upstream text is cleaned when stored and again when printed: ANSI/OSC escape
sequences and C0/C1 control characters are removed; tab and newline are kept.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte ESC sequences, then single
# C0 (except \t \n) / DEL / C1 characters, including the 8-bit CSI (\x9b) and OSC (\x9d) introducers.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-_]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def clean(text: str) -> str:
    """`text` without escape sequences or control characters other than tab and newline."""
    return _ESCAPES.sub("", text)
