"""A tiny document model shared by the Markdown and PDF writers: a list of blocks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Heading:
    text: str
    level: int = 1


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Numbered:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    widths: list[float] = field(default_factory=list)  # relative column widths for the PDF


@dataclass
class Image:
    path: str  # relative to the report folder
    caption: str = ""


@dataclass
class Code:
    text: str


Block = Heading | Para | Bullets | Numbered | Table | Image | Code
