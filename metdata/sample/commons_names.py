"""How Wikimedia Commons names files on its upload host: shared by the sample world and the Commons fake.

The rule is the real one (source_apis.md C.9): the file name is the title without ``File:``, spaces as
underscores, first letter upper-case; the two directory levels come from the md5 of that name.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

_URL_SAFE = ";@$!*(),~:"  # what MediaWiki's wfUrlencode leaves unescaped (besides alphanumerics and -_.)


def file_name(title: str) -> str:
    """``File:The cup of tea.jpg`` -> ``The_cup_of_tea.jpg``."""
    name = title.split(":", 1)[1] if title.startswith("File:") else title
    name = name.strip().replace(" ", "_")
    return name[:1].upper() + name[1:]


def md5_dirs(name: str) -> str:
    digest = hashlib.md5(name.encode("utf-8")).hexdigest()
    return f"{digest[0]}/{digest[:2]}"


def encoded_name(name: str) -> str:
    return quote(name, safe=_URL_SAFE)


def original_path(name: str) -> str:
    """URL path of the original file on the upload host."""
    return f"/wikipedia/commons/{md5_dirs(name)}/{encoded_name(name)}"


def thumb_path(name: str, width_px: int) -> str:
    """URL path of a thumbnail `width_px` wide (must be a standard step to be served)."""
    encoded = encoded_name(name)
    return f"/wikipedia/commons/thumb/{md5_dirs(name)}/{encoded}/{width_px}px-{encoded}"

