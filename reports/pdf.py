"""Render the document blocks as a PDF with fpdf2 (pure Python, embeds a TTF font, real tables)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace

from reports.doc import Block, Bullets, Code, Heading, Image, Numbered, Para, Table
from results.store import atomic_write_bytes

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _PDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("dejavu", size=7)
        self.cell(0, 8, f"dn report - page {self.page_no()}", align="C")


PAD = 0.8  # mm of cell padding on each side
SIZES = (7.0, 6.5, 6.0, 5.5, 5.0)


NBSP = "\u00a0"  # fpdf2 never breaks a line there
_INTERVAL = re.compile(r"(\S+) \[([^\]\s]+), ([^\]\s]+)\]")


def _glue(text: str) -> str:
    """Keep '0.12 [0.05, 0.20]' and 'p < 1/200' on one line each."""
    text = _INTERVAL.sub(lambda m: f"{m[1]}{NBSP}[{m[2]},{NBSP}{m[3]}]", text)
    return re.sub(r"(p|=) < (\d)", lambda m: f"{m[1]}{NBSP}<{NBSP}{m[2]}", text)


def _plain(text: str) -> str:
    return _glue(text.replace("**", "").replace("`", ""))


def _layout(pdf: FPDF, table: Table, width: float) -> tuple[float, tuple[float, ...]]:
    """Font size and column widths (mm) so that no token (a number, a word) is split across lines.

    Each column gets at least the width of its longest token; what is left goes to the columns
    whose whole cells are wider than that, in proportion to the excess.
    """
    n = len(table.headers)
    for size in SIZES:
        mins, wants = [0.0] * n, [0.0] * n
        for bold, row in [(True, table.headers)] + [(False, r) for r in table.rows]:
            pdf.set_font("dejavu", "B" if bold else "", size)
            for j, cell in enumerate(row[:n]):
                text = _glue(str(cell))
                tokens = text.split(" ") or [""]
                mins[j] = max(mins[j], max(pdf.get_string_width(t) for t in tokens) + 2 * PAD + 0.6)
                wants[j] = max(wants[j], pdf.get_string_width(text) + 2 * PAD + 0.6)
        if sum(mins) <= width or size == SIZES[-1]:
            break
    if sum(wants) <= width:
        extra = (width - sum(wants)) / n
        return size, tuple(w + extra for w in wants)
    free = width - sum(mins)
    excess = [w - m for w, m in zip(wants, mins, strict=True)]
    total = sum(excess) or 1.0
    return size, tuple(m + max(free, 0) * e / total for m, e in zip(mins, excess, strict=True))


def to_pdf(blocks: list[Block], root: Path, path: Path, title: str) -> None:
    pdf = _PDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_creator("dn report (fpdf2)")
    pdf.add_font("dejavu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_font("dejavu", "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
    pdf.add_font("dejavumono", "", str(FONT_DIR / "DejaVuSansMono.ttf"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_margins(12, 12, 12)
    pdf.add_page()
    width = pdf.epw
    for b in blocks:
        if isinstance(b, Heading):
            size = {1: 16, 2: 13, 3: 11}.get(b.level, 10)
            if b.level <= 2 and pdf.get_y() > 240:
                pdf.add_page()
            pdf.ln(2)
            pdf.set_font("dejavu", "B", size)
            pdf.multi_cell(width, size * 0.5, b.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(b, Para):
            pdf.set_font("dejavu", "", 9)
            pdf.multi_cell(width, 4.6, _plain(b.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(b, Bullets):
            pdf.set_font("dejavu", "", 9)
            for item in b.items:
                pdf.multi_cell(width, 4.6, "\u2022 " + _plain(item), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(b, Table):
            if b.caption:
                pdf.set_font("dejavu", "I", 8)
                pdf.multi_cell(width, 4.2, b.caption, new_x="LMARGIN", new_y="NEXT")
            size, widths = _layout(pdf, b, width)
            pdf.set_font("dejavu", "", size)
            with pdf.table(col_widths=widths, text_align="LEFT", line_height=size * 0.5, padding=PAD,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
                           first_row_as_headings=True, width=width) as table:
                for row in [b.headers] + b.rows:
                    r = table.row()
                    for cell in row:
                        r.cell(_glue(str(cell)))
            pdf.ln(3)
        elif isinstance(b, Numbered):
            pdf.set_font("dejavu", "", 9)
            for i, item in enumerate(b.items, 1):
                pdf.multi_cell(width, 4.6, f"{i}. " + _plain(item), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif isinstance(b, Image):
            img = root / b.path
            if not img.exists():
                continue
            from PIL import Image as PILImage

            with PILImage.open(img) as im:
                w, h = im.size
            draw_w = width
            draw_h = draw_w * h / w
            if draw_h > 245:
                draw_h = 245
                draw_w = draw_h * w / h
            if pdf.get_y() + draw_h > pdf.h - 20:
                pdf.add_page()
            pdf.image(str(img), x=pdf.l_margin + (width - draw_w) / 2, w=draw_w, h=draw_h)
            if b.caption:
                pdf.set_font("dejavu", "I", 8)
                pdf.multi_cell(width, 4.2, b.caption, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif isinstance(b, Code):
            pdf.set_font("dejavumono", "", 7)
            pdf.multi_cell(width, 3.6, b.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(path), bytes(pdf.output()))  # never a half-written PDF
