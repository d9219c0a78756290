# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""A small, strict reader and writer for the protobuf text format subset TF Serving's
configuration files use (messages, strings, integers, booleans, enums, map entries).

Plain Python with no Ansible import, so the filters, the unit tests and the TF Serving
test stand-in share one implementation.

The parsed form is a dict mapping each field name to a *list* of values (protobuf fields
may repeat); nested messages are dicts of the same shape. Strings come back as ``str``,
numbers as ``int`` or ``float``, ``true``/``false`` as ``bool``, enum identifiers as
``Enum`` (a ``str`` subclass) so callers can tell ``FOO`` from ``"FOO"``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


class TextProtoError(ValueError):
    """Raised on text that is not valid protobuf text format."""


class Enum(str):
    """An enum identifier (written without quotes)."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*) |
        (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*') |
        (?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+\.\d*(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?|\.\d+)) |
        (?P<ident>[A-Za-z_][A-Za-z0-9_.]*) |
        (?P<punct>[{}<>:;,\[\]])
    )""",
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def _unescape(body):
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1:]).group(0)
            out.append(chr(int(digits, 8)))
            i += 1 + len(digits)
        else:
            raise TextProtoError("unknown escape sequence \\%s" % nxt)
    return "".join(out)


def _tokenize(text):
    pos = 0
    tokens = []
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            line = text.count("\n", 0, pos) + 1
            raise TextProtoError("unexpected text at line %d: %r" % (line, text[pos:pos + 20].strip()))
        pos = match.end()
        kind = match.lastgroup
        if kind == "comment":
            continue
        value = match.group(kind)
        line = text.count("\n", 0, match.start(kind)) + 1
        tokens.append((kind, value, line))
    return tokens


def _scalar(kind, value, line):
    if kind == "string":
        return _unescape(value[1:-1])
    if kind == "number":
        if value.lower().startswith(("0x", "-0x")):
            return int(value, 16)
        if re.match(r"^-?\d+\Z", value):
            return int(value)
        return float(value)
    if kind == "ident":
        if value == "true":
            return True
        if value == "false":
            return False
        return Enum(value)
    raise TextProtoError("line %d: expected a value, found %r" % (line, value))


def parse(text):
    """Parse protobuf text format into a dict of field name -> list of values."""
    tokens = _tokenize(text)
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else (None, None, None)

    def take():
        tok = peek()
        pos[0] += 1
        return tok

    def message(closer):
        fields = {}
        while True:
            kind, value, line = peek()
            if kind is None:
                if closer:
                    raise TextProtoError("unexpected end of text: missing %r" % closer)
                return fields
            if kind == "punct" and value == closer:
                take()
                return fields
            if kind != "ident":
                raise TextProtoError("line %s: expected a field name, found %r" % (line, value))
            name = take()[1]
            kind, value, line = peek()
            if kind == "punct" and value == ":":
                take()
                kind, value, line = peek()
                if kind == "punct" and value in "{<":
                    take()
                    parsed = message("}" if value == "{" else ">")
                elif kind == "punct" and value == "[":
                    take()
                    parsed = []
                    while True:
                        kind, value, line = take()
                        if kind == "punct" and value == "]":
                            break
                        parsed.append(_scalar(kind, value, line))
                        kind, value, line = peek()
                        if kind == "punct" and value == ",":
                            take()
                    fields.setdefault(name, []).extend(parsed)
                    continue
                else:
                    kind, value, line = take()
                    if kind is None:
                        raise TextProtoError("unexpected end of text after %r" % name)
                    parsed = _scalar(kind, value, line)
            elif kind == "punct" and value in "{<":
                take()
                parsed = message("}" if value == "{" else ">")
            else:
                raise TextProtoError("line %s: expected ':' or '{' after field %r" % (line, name))
            fields.setdefault(name, []).append(parsed)
            kind, value, line = peek()
            if kind == "punct" and value in ",;":
                take()

    return message(None)


def quote(value):
    """Quote a string for protobuf text format (escapes quotes, backslashes, control chars)."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\%03o" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render(fields, indent=0):
    """Render a dict of field -> value (or list of values) as protobuf text format.

    Dict values become nested messages, ``str`` becomes a quoted string, ``Enum`` a bare
    identifier, ``bool`` ``true``/``false``; field order is the dict's order.
    """
    pad = "  " * indent
    lines = []
    for name, values in fields.items():
        if not isinstance(values, list):
            values = [values]
        for value in values:
            if isinstance(value, dict):
                lines.append("%s%s {" % (pad, name))
                inner = render(value, indent + 1)
                if inner:
                    lines.append(inner)
                lines.append("%s}" % pad)
            elif isinstance(value, bool):
                lines.append("%s%s: %s" % (pad, name, "true" if value else "false"))
            elif isinstance(value, Enum):
                lines.append("%s%s: %s" % (pad, name, value))
            elif isinstance(value, str):
                lines.append("%s%s: %s" % (pad, name, quote(value)))
            elif isinstance(value, (int, float)):
                lines.append("%s%s: %s" % (pad, name, value))
            else:
                raise TypeError("cannot render %r for field %s" % (value, name))
    return "\n".join(lines)
