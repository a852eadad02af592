"""`beforeCommands: ["pip install requests pandas"]`: Kestra's way to give a script its packages.

Run as written, such a line would install into whatever `pip` the PATH finds: locally Stratoflow's
own virtual environment. A line that is only a `pip install` of requirements (optionally with
`-q`, `-U` and the like) becomes requirements of the task instead: installed once into the
dependency cache, keyed by the requirement set, like `dependencies`. Any other line runs as written;
its `pip install` goes to the task's own folder (`PIP_TARGET`), also never into Stratoflow's
environment.
"""

from __future__ import annotations

import re
import shlex

PIP_INSTALL = re.compile(
    r"^\s*(?:(?:python3?(?:\.\d+)?|uv)\s+-m\s+)?(?:uv\s+)?pip3?\s+install\s+(?P<args>.*)$"
)
# Options that change nothing about what gets installed.
HARMLESS = frozenset(
    {
        "-q",
        "-qq",
        "-qqq",
        "--quiet",
        "-U",
        "--upgrade",
        "--user",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--root-user-action=ignore",
        "--progress-bar=off",
        "--system",
    }
)
# Expansions and substitutions: the line means more than its words.
EXPANSION = re.compile(r"[`$\\]")
OPERATORS = frozenset("();<>|&")


def split_pip_installs(lines: list[str]) -> tuple[list[str], list[str]]:
    """(the lines to run, the requirements of the plain `pip install` lines taken out of them)."""
    kept: list[str] = []
    requirements: list[str] = []
    for line in lines:
        found = _requirements(line)
        if found is None:
            kept.append(line)
        else:
            requirements.extend(found)
    return kept, requirements


def _requirements(line: str) -> list[str] | None:
    match = PIP_INSTALL.match(line)
    if match is None or EXPANSION.search(match.group("args")):
        return None
    lexer = shlex.shlex(match.group("args"), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return None
    if any(set(word) <= OPERATORS for word in words):
        return None  # a redirection, a pipe, a second command (`pandas>=2` quoted is one word)
    options = [word for word in words if word.startswith("-")]
    found = [word for word in words if not word.startswith("-")]
    if not found or any(option not in HARMLESS for option in options):
        return None  # `-r requirements.txt`, `--index-url ...`: run as written (into PIP_TARGET)
    return found
