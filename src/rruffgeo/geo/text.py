"""The one text key for matching place names: lower-case ASCII, no accents, dots or apostrophes.

Shared by the locality cleaner, the country aliases and the gazetteer, and importing nothing of
theirs, so none of them imports another just for it.
"""

from __future__ import annotations

import re
import unicodedata

_SPACE_RE = re.compile(r"\s+")


def norm(text: str) -> str:
    """Lower-case ASCII form used for matching: accents, dots and apostrophes removed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    text = re.sub(r"[.'’`´ʹ\"]", "", text)
    text = re.sub(r"[-_/]", " ", text)
    return _SPACE_RE.sub(" ", text).strip()
