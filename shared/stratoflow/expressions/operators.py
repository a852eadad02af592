"""Pebble's operators on top of Jinja's grammar: `a ?? b`, `a ??? b`, `c ? a : b`, `x contains y`, `null`.

Jinja's lexer has no `?`, so it happens in two steps. `preprocess` replaces runs of `?` outside string
literals, inside `{{ }}` and `{% %}`, by placeholder names. `filter_stream` then rewrites each tag's
tokens into plain Jinja, with Pebble's precedence:

- `a ?? b` (binds tighter than every binary operator, left-associative) becomes `a |__sf_coalesce__(b)`;
  the code generator (`compiler`) makes it lazy: `b` is evaluated only when needed.
- `x contains y` (below comparisons, above `and`/`or`) becomes `(x) |__sf_contains__(y)`.
- `c ? a : b` (lowest precedence, right-associative) becomes `((a) if (c) else (b))`.
- `a equals b` (Pebble's spelling of `==`) becomes `a == b`.
- `null` becomes `none`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

UNDEFINED_COALESCE = "__sf_uc__"
NULL_COALESCE = "__sf_nc__"
TERNARY = "__sf_q__"
COALESCE_FILTER = "__sf_coalesce__"
UNDEFINED_COALESCE_FILTER = "__sf_undefined_coalesce__"
CONTAINS_FILTER = "__sf_contains__"
# Placeholder -> the operator it stands for, to give error messages back their user's words.
SPELLING = {UNDEFINED_COALESCE: "???", NULL_COALESCE: "??", TERNARY: "?"}

_RUNS = {3: UNDEFINED_COALESCE, 2: NULL_COALESCE, 1: TERNARY}
_TAG_OPEN = re.compile(r"\{([{%#])")
_RAW_OPEN = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_RAW_CLOSE = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_OPEN = {"lparen": "rparen", "lbracket": "rbracket", "lbrace": "rbrace"}
_CLOSE = frozenset(_OPEN.values())
_WORDS = frozenset({"and", "or", "not", "in", "is", "if", "elif", "else", "contains", "equals", *SPELLING})
_BEGIN = {"variable_begin": "variable_end", "block_begin": "block_end"}


def preprocess(source: str) -> str:
    """Replace `???`, `??` and `?` inside tags (not in strings, comments or raw blocks) by placeholders."""
    if "?" not in source:
        return source
    parts: list[str] = []
    position = 0
    while (match := _TAG_OPEN.search(source, position)) is not None:
        kind = match.group(1)
        if kind == "#":
            closer = source.find("#}", match.end())
            end = len(source) if closer < 0 else closer + 2
        elif kind == "%" and _RAW_OPEN.match(source, match.start()):
            raw_end = _RAW_CLOSE.search(source, match.end())
            end = len(source) if raw_end is None else raw_end.end()
        else:
            parts.append(source[position : match.end()])
            position = _scan_tag(source, match.end(), "}}" if kind == "{" else "%}", parts)
            continue
        parts.append(source[position:end])  # a comment or a raw block: copied as it is
        position = end
    parts.append(source[position:])
    return "".join(parts)


def _scan_tag(source: str, start: int, closer: str, parts: list[str]) -> int:
    """Copy one tag's code to `parts`, replacing `?` runs; returns the position after the tag."""
    index, depth, size = start, 0, len(source)
    while index < size:
        char = source[index]
        if char in "'\"":
            end = index + 1
            while end < size and source[end] != char:
                end += 2 if source[end] == "\\" else 1
            parts.append(source[index : end + 1])
            index = end + 1
        elif char == "?":
            end = index
            while end < size and source[end] == "?":
                end += 1
            run = end - index
            parts.append(f" {_RUNS[run]} " if run in _RUNS else source[index:end])
            index = end
        elif depth == 0 and source.startswith(closer, index):
            parts.append(closer)
            return index + len(closer)
        else:
            depth += 1 if char in "([{" else -1 if char in ")]}" else 0
            depth = max(depth, 0)
            parts.append(char)
            index += 1
    return index


def _is_word(token: Token, *words: str) -> bool:
    return token.type == "name" and token.value in words


def _ends_operand(tokens: list[Token], index: int) -> bool:
    """Whether `tokens[index]` can end an operand (an attribute named like an operator can)."""
    token = tokens[index]
    if token.type == "name":
        return token.value not in _WORDS or (index > 0 and tokens[index - 1].type == "dot")
    return token.type in ("string", "integer", "float") or token.type in _CLOSE


def _matching(tokens: list[Token], index: int) -> int:
    """The index just after the bracket that closes `tokens[index]`."""
    depth = 0
    for position in range(index, len(tokens)):
        kind = tokens[position].type
        depth += 1 if kind in _OPEN else -1 if kind in _CLOSE else 0
        if depth == 0:
            return position + 1
    return len(tokens)


def _operand_end(tokens: list[Token], start: int) -> int:
    """End of the unary-and-postfix operand starting at `start` (== `start` when there is none)."""
    index, size = start, len(tokens)
    while index < size and tokens[index].type in ("sub", "add"):
        index += 1
    if index >= size:
        return start
    token = tokens[index]
    if (token.type == "name" and token.value not in _WORDS) or token.type in ("integer", "float"):
        index += 1
    elif token.type == "string":
        while index < size and tokens[index].type == "string":
            index += 1
    elif token.type in _OPEN:
        index = _matching(tokens, index)
    else:
        return start
    while index < size:
        kind = tokens[index].type
        if kind == "dot" and index + 1 < size and tokens[index + 1].type in ("name", "integer"):
            index += 2
        elif kind in ("lbracket", "lparen"):
            index = _matching(tokens, index)
        else:
            break
    return index


def _scan(
    tokens: list[Token], start: int, step: int, stop_words: frozenset[str], stop_types: set[str]
) -> int:
    """Walk from `start` by `step` at bracket depth 0 until a boundary; returns the boundary index."""
    depth, index = 0, start
    opening, closing = (_OPEN, _CLOSE) if step > 0 else (_CLOSE, _OPEN)
    while 0 <= index < len(tokens):
        token = tokens[index]
        if token.type in opening:
            depth += 1
        elif token.type in closing:
            if depth == 0:
                return index
            depth -= 1
        elif depth == 0 and (token.type in stop_types or _is_word(token, *stop_words)):
            return index
        index += step
    return index


def _syntax_error(message: str, token: Token, stream: TokenStream) -> TemplateSyntaxError:
    return TemplateSyntaxError(message, token.lineno, stream.name, stream.filename)


def _rewrite_coalesce(tokens: list[Token], stream: TokenStream) -> list[Token]:
    out: list[Token] = []
    closes: dict[int, int] = {}
    for index, token in enumerate([*tokens, Token(0, "eof", "")]):
        out.extend(Token(token.lineno, "rparen", ")") for _ in range(closes.pop(index, 0)))
        if token.type == "eof":
            break
        if not _is_word(token, NULL_COALESCE, UNDEFINED_COALESCE):
            out.append(token)
            continue
        spelling = SPELLING[token.value]
        if not out or not _ends_operand(out, len(out) - 1):
            raise _syntax_error(f"expected a value before '{spelling}'", token, stream)
        end = _operand_end(tokens, index + 1)
        if end == index + 1:
            raise _syntax_error(f"expected a value after '{spelling}'", token, stream)
        name = COALESCE_FILTER if token.value == NULL_COALESCE else UNDEFINED_COALESCE_FILTER
        out += [Token(token.lineno, "pipe", "|"), Token(token.lineno, "name", name)]
        out.append(Token(token.lineno, "lparen", "("))
        closes[end] = closes.get(end, 0) + 1
    return out


_CONTAINS_LEFT_STOPS = frozenset({"and", "or", "not", "if", "elif", "else", TERNARY})
_CONTAINS_RIGHT_STOPS = frozenset({"and", "or", "if", "else", "is", "contains", TERNARY})


def _rewrite_contains(tokens: list[Token]) -> list[Token]:
    index = 1
    while index < len(tokens) - 1:
        token = tokens[index]
        following = tokens[index + 1]
        if not (
            _is_word(token, "contains")
            and tokens[index - 1].type != "dot"
            and _ends_operand(tokens, index - 1)
            and (
                _ends_operand(tokens, index + 1)
                or following.type in _OPEN
                or following.type in ("sub", "add")
            )
        ):
            index += 1
            continue
        start = _scan(tokens, index - 1, -1, _CONTAINS_LEFT_STOPS, {"comma", "colon", "assign"}) + 1
        end = _scan(tokens, index + 1, 1, _CONTAINS_RIGHT_STOPS, {"comma", "colon"})
        line = token.lineno
        tokens[start:end] = [
            Token(line, "lparen", "("),
            *tokens[start:index],
            Token(line, "rparen", ")"),
            Token(line, "pipe", "|"),
            Token(line, "name", CONTAINS_FILTER),
            Token(line, "lparen", "("),
            *tokens[index + 1 : end],
            Token(line, "rparen", ")"),
        ]
        index = start + 1
    return tokens


def _rewrite_equals(tokens: list[Token]) -> list[Token]:
    """`a equals b` -> `a == b`; `equals` as a name (`x.equals`, `{{ equals }}`) stays a name."""
    return [
        Token(token.lineno, "eq", "==")
        if _is_word(token, "equals")
        and 0 < index < len(tokens) - 1
        and tokens[index - 1].type != "dot"
        and _ends_operand(tokens, index - 1)
        else token
        for index, token in enumerate(tokens)
    ]


def _rewrite_ternary(tokens: list[Token], stream: TokenStream) -> list[Token]:
    left_stops = frozenset({"if", "elif", "else", *(("in",) if _is_word(tokens[0], "for") else ())})
    while (question := next((i for i, t in enumerate(tokens) if _is_word(t, TERNARY)), None)) is not None:
        token = tokens[question]
        start = _scan(tokens, question - 1, -1, left_stops, {"comma", "colon", "assign"}) + 1
        colon = _ternary_end(tokens, question + 1, stop_at_comma=False)
        if colon >= len(tokens) or tokens[colon].type != "colon":
            raise _syntax_error("expected ':' after the '?' of a conditional", token, stream)
        end = _ternary_end(tokens, colon + 1, stop_at_comma=True)
        if start == question or colon == question + 1 or end == colon + 1:
            raise _syntax_error("a conditional needs the form 'condition ? value : other'", token, stream)
        line = token.lineno

        def group(part: list[Token], line: int = line) -> list[Token]:
            return [Token(line, "lparen", "("), *part, Token(line, "rparen", ")")]

        tokens[start:end] = [
            Token(line, "lparen", "("),
            *group(tokens[question + 1 : colon]),
            Token(line, "name", "if"),
            *group(tokens[start:question]),
            Token(line, "name", "else"),
            *group(tokens[colon + 1 : end]),
            Token(line, "rparen", ")"),
        ]
    return tokens


def _ternary_end(tokens: list[Token], start: int, stop_at_comma: bool) -> int:
    """Index of the `:` (or, for the last branch, the end) of a branch, skipping nested conditionals."""
    depth = nested = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.type in _OPEN:
            depth += 1
        elif token.type in _CLOSE:
            if depth == 0:
                return index
            depth -= 1
        elif depth == 0 and _is_word(token, TERNARY):
            nested += 1
        elif depth == 0 and token.type == "colon":
            if nested == 0:
                return index
            nested -= 1
        elif depth == 0 and stop_at_comma and token.type == "comma":
            return index
    return len(tokens)


def rewrite_tag(tokens: list[Token], stream: TokenStream) -> list[Token]:
    """Rewrite the tokens inside one `{{ }}` or `{% %}` tag into plain Jinja."""
    if not tokens:
        return tokens
    tokens = [
        Token(t.lineno, "name", "none")
        if _is_word(t, "null") and (i == 0 or tokens[i - 1].type != "dot")
        else t
        for i, t in enumerate(tokens)
    ]
    if any(_is_word(t, "equals") for t in tokens):
        tokens = _rewrite_equals(tokens)
    if any(_is_word(t, NULL_COALESCE, UNDEFINED_COALESCE) for t in tokens):
        tokens = _rewrite_coalesce(tokens, stream)
    if any(_is_word(t, "contains") for t in tokens):
        tokens = _rewrite_contains(tokens)
    if any(_is_word(t, TERNARY) for t in tokens):
        tokens = _rewrite_ternary(tokens, stream)
    return tokens


class PebbleOperators(Extension):
    """The Jinja extension that applies `preprocess` and `rewrite_tag` to every template."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return preprocess(source)

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        for token in stream:
            end = _BEGIN.get(token.type)
            yield token
            if end is None:
                continue
            inner: list[Token] = []
            for inside in stream:
                if inside.type == end:
                    yield from rewrite_tag(inner, stream)
                    yield inside
                    break
                inner.append(inside)
            else:
                yield from rewrite_tag(inner, stream)
