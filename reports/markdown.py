"""Render the document blocks as Markdown."""

from __future__ import annotations

from reports.doc import Block, Bullets, Code, Heading, Image, Numbered, Para, Table


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {i}" for i in b.items))
        elif isinstance(b, Numbered):
            out.append("\n".join(f"{i}. {t}" for i, t in enumerate(b.items, 1)))
        elif isinstance(b, Table):
            lines = []
            if b.caption:
                lines.append(f"*{b.caption}*")  # GFM lets a table follow a paragraph line directly
            lines.append("| " + " | ".join(_cell(h) for h in b.headers) + " |")
            lines.append("|" + "|".join("---" for _ in b.headers) + "|")
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, Image):
            alt = b.caption.split(".", 1)[0] if b.caption else "figure"
            out.append(f"![{alt}]({b.path})" + (f"\n*{b.caption}*" if b.caption else ""))
        elif isinstance(b, Code):
            out.append("```\n" + b.text.rstrip() + "\n```")
    return "\n\n".join(out) + "\n"
