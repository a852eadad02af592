"""Kestra's globs (Java's) on '/'-separated paths, for `outputFiles` and `namespaceFiles`.

`*` and `?` stay within a folder, `**` crosses folders (`out/**` is every file under `out`, `**.csv`
every CSV file), `**/` also matches no folder at all (`**/*.py` matches `main.py`), `[abc]` / `[!abc]`
is one of the characters (or none of them), `{a,b}` one of the alternatives (they may nest).
"""

from __future__ import annotations

import re
from functools import lru_cache

from stratoflow.tasks.errors import TaskFailed


@lru_cache(maxsize=256)
def glob_pattern(glob: str, what: str) -> re.Pattern[str]:
    """A regular expression matching the whole path for `glob`; TaskFailed naming `what` for a bad one."""
    out, i, depth = [], 0, 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                raise TaskFailed(f"{what}: unclosed '[' in the glob {glob!r}")
            body = glob[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end + 1
            continue
        elif char == "{":
            out.append("(?:")
            depth += 1
        elif char == "}" and depth:
            out.append(")")
            depth -= 1
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        raise TaskFailed(f"{what}: unclosed '{{' in the glob {glob!r}")
    return re.compile("".join(out))
