"""Reading course files: YAML with the line of every value, front matter, size and depth limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 8  # the format nests at most: quiz > questions > [i] > choices > [j] > field

PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}

# A field path such as ("quiz", "questions", 2, "choices").
FieldPath = tuple[str | int, ...]


def format_field(path: FieldPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(file)"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Place:
    """Where something is written: a question, a pool, an objective (for the lint's lines)."""

    file: str
    line: int
    field: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Document:
    """Parsed YAML data plus the line number (1-based) of each field path in it."""

    file: str
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)
    key_lines: dict[FieldPath, int] = field(default_factory=dict)

    def line(self, path: FieldPath) -> int:
        """The line of `path`, or of its nearest ancestor that exists."""
        while path:
            if path in self.key_lines:
                return self.key_lines[path]
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class SourceError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# libyaml's parser when PyYAML was built with it (the wheels are): the same events, nodes and
# marks as the pure-Python one, at a tenth of the time (a check of the shipped courses took
# 0.8 s, most of it scanning YAML; every test that loads a course paid it).
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Converter:
    """Turns a composed YAML node tree into plain values, recording lines as it goes."""

    def __init__(self, line_offset: int) -> None:
        self.offset = line_offset
        self.lines: dict[FieldPath, int] = {}
        self.key_lines: dict[FieldPath, int] = {}
        self.constructor = yaml.SafeLoader("")  # only its scalar construction is used
        self.seen: set[int] = set()

    def line_of(self, node: yaml.Node) -> int:
        return node.start_mark.line + 1 + self.offset

    def convert(self, node: yaml.Node, path: FieldPath) -> Any:
        if len(path) > MAX_DEPTH:
            raise SourceError(self.line_of(node), "nested deeper than the course format allows")
        if id(node) in self.seen:
            raise SourceError(self.line_of(node), "YAML anchors and aliases are not allowed")
        self.seen.add(id(node))
        if node.tag not in PLAIN_TAGS:
            raise SourceError(self.line_of(node), f"the YAML tag {node.tag} is not allowed")
        self.lines[path] = self.line_of(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise SourceError(self.line_of(key_node), "a key must be a plain name")
                key = str(self.constructor.construct_scalar(key_node))
                if key == "<<":
                    raise SourceError(self.line_of(key_node), "YAML merge keys are not allowed")
                if key in result:
                    raise SourceError(self.line_of(key_node), f"duplicate key {key!r}")
                self.key_lines[(*path, key)] = self.line_of(key_node)
                result[key] = self.convert(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.constructor.construct_object(node)


def read_text(path: Path, display: str) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SourceError(1, f"file is {size:,} bytes; course files may be at most 1 MiB")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(line, "file is not valid UTF-8 text") from None


def parse_yaml(text: str, display: str, line_offset: int = 0) -> Document:
    try:
        _refuse_aliases(text, line_offset)
        node = yaml.compose(text, Loader=LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 if mark else 1) + line_offset
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise SourceError(line, f"invalid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        raise SourceError(1 + line_offset, f"invalid YAML: {exc}") from None
    if node is None:
        return Document(display, None, {(): 1 + line_offset})
    converter = _Converter(line_offset)
    try:
        data = converter.convert(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise SourceError((mark.line + 1 if mark else 1) + line_offset, str(exc.problem)) from None
    return Document(display, data, converter.lines, converter.key_lines)


def _refuse_aliases(text: str, line_offset: int) -> None:
    """Aliases can multiply a small file into a huge value ("billion laughs"); none are needed."""
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, yaml.AliasEvent):
            line = (event.start_mark.line if event.start_mark else 0) + 1 + line_offset
            raise SourceError(line, "YAML anchors and aliases are not allowed")


def split_front_matter(text: str) -> tuple[str, str, int]:
    """Split a module file into (front matter, body, line where the body starts)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SourceError(1, "a module file must start with a '---' line opening its front matter")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    raise SourceError(len(lines), "the front matter is never closed with a '---' line")
