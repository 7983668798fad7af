"""PostgreSQL's own rules for names, in Python: quoting, truncation, names it makes up.

Each function follows the server function named in its docstring (PostgreSQL 15), so that
text built here is what the server itself would print or choose:

* ``quote_ident``: ``quote_identifier()`` (ruleutils.c), the quoting of every deparser;
* ``truncate``: the scanner's ``truncate_identifier()``, names cut to 63 bytes;
* ``make_object_name`` / ``name_addition``: ``makeObjectName()`` and
  ``ChooseIndexNameAddition()``, how ``t_pkey``, ``t_a_b_key``, ``t_col_check``,
  ``t_a_fkey`` and ``t_id_seq`` are formed;
* ``NameSpace``: ``ChooseRelationName()`` / ``ChooseConstraintName()``, which add a number
  when the name is taken.

Only UTF-8 databases are handled (character boundaries are UTF-8's).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

NAMEDATALEN = 64
MAX_NAME_BYTES = NAMEDATALEN - 1
_SAFE = re.compile("[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Quoting:
    """What ``quote_identifier`` depends on: the server's keywords and a setting."""

    keywords: frozenset[str] = frozenset()  # every keyword that is not UNRESERVED
    quote_all: bool = False  # the quote_all_identifiers setting
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def ident(self, name: str) -> str:
        """``quote_identifier()``: quoted unless all ``[a-z0-9_]``, not a digit first, and
        not a keyword (other than an unreserved one)."""
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = self._quote(name)
        return found

    def _quote(self, name: str) -> str:
        safe = not self.quote_all and _SAFE.fullmatch(name) and name not in self.keywords
        return name if safe else '"' + name.replace('"', '""') + '"'

    def qualified(self, schema: str | None, name: str) -> str:
        """``quote_qualified_identifier()``."""
        return name if schema is None else f"{self.ident(schema)}.{self.ident(name)}"

    def idents(self, names: Iterable[str]) -> str:
        return ", ".join(self.ident(name) for name in names)


# The keywords that are not UNRESERVED (``pg_get_keywords()`` where ``catcode <> 'U'``) of
# PostgreSQL 15, with those later versions added (quoting one more name is harmless).
_KEYWORD_TEXT = """
    all analyse analyze and any array as asc asymmetric authorization between bigint binary bit
    boolean both case cast char character check coalesce collate collation column concurrently
    constraint create cross current_catalog current_date current_role current_schema
    current_time current_timestamp current_user dec decimal default deferrable desc distinct do
    else end except exists extract false fetch float for foreign freeze from full grant greatest
    group grouping having ilike in initially inner inout int integer intersect interval into is
    isnull join lateral leading least left like limit localtime localtimestamp national natural
    nchar none normalize not notnull null nullif numeric offset on only or order out outer
    overlaps overlay placing position precision primary real references returning right row
    select session_user setof similar smallint some substring symmetric table tablesample then
    time timestamp to trailing treat trim true union unique user using values varchar variadic
    verbose when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest
    xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable json json_array json_arrayagg
    json_exists json_object json_objectagg json_query json_scalar json_serialize json_table
    json_value merge_action system_user
"""
KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_QUOTING = Quoting(KEYWORDS)


def quote_ident(name: str) -> str:
    """``quote_identifier()`` without a server at hand: its keyword list, built in."""
    return _QUOTING.ident(name)


def quote_literal(text: str) -> str:
    """``simple_quote_literal()`` with standard_conforming_strings on."""
    return "'" + text.replace("'", "''") + "'"


def _clip(data: bytes, limit: int) -> int:
    """``pg_mbcliplen()`` for UTF-8: at most ``limit`` bytes, never half a character."""
    if len(data) <= limit:
        return len(data)
    end = limit
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return end


def truncate(name: str) -> str:
    """A name as the server stores it: cut to 63 bytes (with a NOTICE), as the scanner does."""
    if len(name) <= MAX_NAME_BYTES and name.isascii():
        return name
    data = name.encode()
    if len(data) <= MAX_NAME_BYTES:
        return name
    return data[: _clip(data, MAX_NAME_BYTES)].decode()


def make_object_name(name1: str, name2: str | None, label: str | None) -> str:
    """``makeObjectName()``: ``name1_name2_label`` in 63 bytes, the longer part cut first."""
    first, second = name1.encode(), (name2 or "").encode()
    overhead = (1 if name2 is not None else 0) + (len(label) + 1 if label else 0)
    available = MAX_NAME_BYTES - overhead
    chars1, chars2 = len(first), len(second)
    while chars1 + chars2 > available:
        if chars1 > chars2:
            chars1 -= 1
        else:
            chars2 -= 1
    parts = [first[: _clip(first, chars1)].decode()]
    if name2 is not None:
        parts.append(second[: _clip(second, chars2)].decode())
    if label:
        parts.append(label)
    return "_".join(parts)


def name_addition(columns: Iterable[str]) -> str:
    """``ChooseIndexNameAddition()`` / ``ChooseForeignKeyConstraintNameAddition()``:
    column names joined by ``_``, stopping once NAMEDATALEN bytes are reached."""
    buffer = b""
    for name in columns:
        if buffer:
            buffer += b"_"
        buffer += name.encode()[:MAX_NAME_BYTES]
        if len(buffer) >= NAMEDATALEN:
            break
    return buffer.decode(errors="ignore")


@dataclass
class NameSpace:
    """The relation and constraint names taken in one schema, in the order of creation."""

    relations: set[str] = field(default_factory=set)
    constraints: set[str] = field(default_factory=set)

    def choose_relation(self, name1: str, name2: str | None, label: str, constraint: bool) -> str:
        """``ChooseRelationName()``: ``label``, then ``label1``, ``label2``... until free."""
        attempt, number = label, 0
        while True:
            name = make_object_name(name1, name2, attempt)
            taken = name in self.relations or (constraint and name in self.constraints)
            if not taken:
                return name
            number += 1
            attempt = f"{label}{number}"

    def choose_constraint(
        self, name1: str, name2: str | None, label: str, others: Collection[str] = ()
    ) -> str:
        """``ChooseConstraintName()``: free among the schema's constraints and ``others``."""
        attempt, number = label, 0
        while True:
            name = make_object_name(name1, name2, attempt)
            if name not in self.constraints and name not in others:
                return name
            number += 1
            attempt = f"{label}{number}"


def _fold(name: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in name)


_PART = re.compile(r'"((?:[^"]|"")*)"|([^".]+)')


def split_qualified(text: str) -> tuple[str, ...]:
    """The names in ``schema.name`` as ``quote_ident`` writes it (``"a.b"."we""ird"``):
    quoted parts unescaped, plain ones folded to lower case as the server folds them (ASCII
    letters only, as ``downcase_identifier()`` in a UTF-8 database).
    Raises ``ValueError`` on text that is not a dotted list of identifiers."""
    parts: list[str] = []
    position = 0
    while True:
        match = _PART.match(text, position)
        if match is None:
            raise ValueError(f"not a qualified name: {text!r}")
        quoted, plain = match.groups()
        parts.append(quoted.replace('""', '"') if quoted is not None else _fold(plain))
        position = match.end()
        if position == len(text):
            return tuple(parts)
        if text[position] != ".":
            raise ValueError(f"not a qualified name: {text!r}")
        position += 1
