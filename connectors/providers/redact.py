"""Keep recipients' addresses out of error texts.

Provider errors often quote the address they refused ("The 'To' number
+57300... is not valid", "550 5.1.1 <ana@example.com>: no such user"); those
texts travel on channel-responses and into logs, so the address is replaced.
"""

from __future__ import annotations

import re

#: E.164-looking numbers and email addresses.
_PII = re.compile(r"\+?\d[\d\s().-]{6,}\d|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text: str, address: str = "") -> str:
    if address:
        text = text.replace(address, "<recipient>")
        bare = address.lstrip("+")
        if bare and bare != address:
            text = text.replace(bare, "<recipient>")
    return _PII.sub("<redacted>", text)
