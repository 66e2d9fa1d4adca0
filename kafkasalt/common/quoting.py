"""Quoting and escaping for the files the formula writes, one function per syntax: JAAS option
values, ``java.util.Properties`` keys and values, Java ``@argfile`` arguments, systemd
``ExecStart=``/``Environment=`` words and supervisord values. The ZooKeeper and the Kafka
renderers both use these, so each syntax has one rule. :func:`parse_properties` is the one
reader of the ``key=value`` files the formula and Kafka write back (``server.properties``,
``meta.properties``)."""

import re
import shlex

_SYSTEMD_SAFE = re.compile(r"[A-Za-z0-9_@+=:,./*-]+")


def _double_quoted(text):
    """``text`` in double quotes, backslashes and double quotes backslash-escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jaas_quote(value):
    """A JAAS option value in double quotes (the JAAS parser, a StreamTokenizer, unescapes \\\\ and
    \\" inside quoted strings)."""
    return _double_quoted(value)


def argfile_quote(arg):
    """One argument of a Java ``@argfile``: as is when plain, else double-quoted. Java argfiles
    split on whitespace, treat a leading '#' as a comment and unescape \\\\ and \\" inside double
    quotes."""
    if arg and not re.search(r"[\s#\"'\\]", arg):
        return arg
    return _double_quoted(arg)


def systemd_quote(arg):
    """One ``ExecStart=`` word: specifiers (%) and variables ($) doubled so they stay literal,
    double-quoted unless only plain characters remain."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_SAFE.fullmatch(arg):
        return arg
    return _double_quoted(arg)


def systemd_env_quote(name, value):
    """One ``Environment=`` assignment: only specifiers (%) are expanded there, not ``$``."""
    return _double_quoted(f"{name}={value}".replace("%", "%%"))


def supervisor_escape(text):
    """A supervisord config value: supervisord %-interpolates its config, so every % is doubled."""
    return text.replace("%", "%%")


def supervisor_quote(arg):
    """One word of a supervisord ``command``: supervisord splits it with shlex after
    %-interpolation, so shell-quote it, then double every %."""
    return supervisor_escape(shlex.quote(arg))


def properties_value(value):
    """A zoo.cfg (``java.util.Properties``) value as ZooKeeper's renderer writes it: booleans lower
    case, backslashes escaped (the values are already validated to be single-line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\\", "\\\\")


def parse_properties(text):
    """``key -> value`` of a ``java.util.Properties`` file as the formula and Kafka write them:
    one ``key=value`` per line (``key:value`` when the line has no ``=``), ``#`` and ``!``
    comments and blank lines skipped, no escapes undone."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            key, _, value = line.partition(":")
        values[key.strip()] = value.strip()
    return values


def escape_properties(text, is_key):
    """Escape for ``java.util.Properties`` (ISO-8859-1 file): backslashes, line breaks, non-ASCII;
    in keys also the separators."""
    out = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == "\f":
            out.append("\\f")
        elif char in "=: " and is_key:
            out.append("\\" + char)
        elif char == " " and index == 0:
            out.append("\\ ")
        elif char in "#!" and index == 0 and is_key:
            out.append("\\" + char)
        elif code < 0x20 or code > 0x7E:
            units = char.encode("utf-16-be")
            out.extend(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))
        else:
            out.append(char)
    return "".join(out)
