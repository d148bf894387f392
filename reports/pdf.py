"""Render the document blocks as a PDF with fpdf2 (pure Python, embeds a TTF font, real tables)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace

from reports.doc import Block, Bullets, Code, Heading, Image, Numbered, Para, Table
from results.store import atomic_write_bytes

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


IMAGE_MAX_H = 245.0  # mm: the tallest a figure is drawn, so that it and its caption fit on an empty page
CAPTION_LINE = 4.2


class _PDF(FPDF):
    """A4 with a page footer, and figures that float: a figure that does not fit where it is cited waits
    (`floats`) while the text after it fills the page, and is drawn at the top of the next page."""

    floats: list[tuple[Path, str]]

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("dejavu", size=7)
        self.cell(0, 8, f"dn report - page {self.page_no()}", align="C")

    def header(self) -> None:
        waiting, self.floats = self.floats, []
        for k, (img, caption) in enumerate(waiting):
            if k and not self.fits(img, caption):
                self.floats = waiting[k:]
                break
            self.place(img, caption)

    def size(self, img: Path) -> tuple[float, float]:
        """(width, height) in mm at which `img` is drawn: the text width, at most IMAGE_MAX_H tall."""
        from PIL import Image as PILImage

        with PILImage.open(img) as im:
            w, h = im.size
        draw_w, draw_h = self.epw, self.epw * h / w
        if draw_h > IMAGE_MAX_H:
            draw_w, draw_h = IMAGE_MAX_H * w / h, IMAGE_MAX_H
        return draw_w, draw_h

    def caption_height(self, caption: str) -> float:
        if not caption:
            return 0.0
        self.set_font("dejavu", "I", 8)
        return float(self.multi_cell(self.epw, CAPTION_LINE, caption, dry_run=True, output="HEIGHT"))

    def fits(self, img: Path, caption: str) -> bool:
        return self.get_y() + self.size(img)[1] + self.caption_height(caption) + 2 <= self.page_break_trigger

    def place(self, img: Path, caption: str) -> None:
        draw_w, draw_h = self.size(img)
        self.image(str(img), x=self.l_margin + (self.epw - draw_w) / 2, w=draw_w, h=draw_h)
        if caption:
            self.set_font("dejavu", "I", 8)
            self.multi_cell(self.epw, CAPTION_LINE, caption, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)


PAD = 0.6  # mm of cell padding on each side
BODY_PT, BODY_LINE = 8.5, 4.2  # body text: points, line height in mm
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
    whose whole cells are wider than that, in proportion to the excess, or to the table's own relative
    `widths` where it gives them (a column of long sentences beside columns of short labels).
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
    if table.widths and len(table.widths) == n and free > 0:
        share = [max(width * r / sum(table.widths) - m, 0.0) for r, m in zip(table.widths, mins, strict=True)]
        total = sum(share) or 1.0
        return size, tuple(m + free * x / total for m, x in zip(mins, share, strict=True))
    excess = [w - m for w, m in zip(wants, mins, strict=True)]
    total = sum(excess) or 1.0
    return size, tuple(m + max(free, 0) * e / total for m, e in zip(mins, excess, strict=True))


def _row_height(pdf: FPDF, row: list[str], widths: tuple[float, ...], size: float) -> float:
    """About how tall a table row is drawn (mm): its tallest cell's lines at the table's font size."""
    pdf.set_font("dejavu", "", size)
    lines = [math.ceil(pdf.get_string_width(_glue(str(cell))) / max(w - 2 * PAD, 1.0) + 1e-9) or 1
             for cell, w in zip(row, widths, strict=False)]
    return max(lines, default=1) * size * 0.45 + 2 * PAD


def _table_start(pdf: FPDF, table: Table, width: float) -> float:
    """Height (mm) of a table's caption, header and first two rows: what must share a page."""
    size, widths = _layout(pdf, table, width)
    pdf.set_font("dejavu", "I", 8)
    caption = pdf.multi_cell(width, CAPTION_LINE, table.caption, dry_run=True, output="HEIGHT") if table.caption else 0
    return caption + sum(_row_height(pdf, row, widths, size) for row in [table.headers] + table.rows[:2])


def to_pdf(blocks: list[Block], root: Path, path: Path, title: str) -> None:
    pdf = _PDF(orientation="P", unit="mm", format="A4")
    pdf.floats = []
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
    for k, b in enumerate(blocks):
        if isinstance(b, Heading):
            size = {1: 16, 2: 13, 3: 11}.get(b.level, 10)
            after = blocks[k + 1] if k + 1 < len(blocks) else None
            start = _table_start(pdf, after, width) if isinstance(after, Table) else 0.0
            if pdf.get_y() > (240 if b.level <= 2 else 250) or pdf.get_y() + 12 + start > pdf.page_break_trigger:
                pdf.add_page()  # a heading never ends a page, nor leaves its table's caption alone
            pdf.ln(2)
            pdf.set_font("dejavu", "B", size)
            pdf.multi_cell(width, size * 0.5, b.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(b, Para):
            pdf.set_font("dejavu", "", BODY_PT)
            pdf.multi_cell(width, BODY_LINE, _plain(b.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(b, Bullets):
            pdf.set_font("dejavu", "", BODY_PT)
            for item in b.items:
                pdf.multi_cell(width, BODY_LINE, "\u2022 " + _plain(item), new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(1.5)
        elif isinstance(b, Table):
            size, widths = _layout(pdf, b, width)
            if b.caption:
                if pdf.get_y() + _table_start(pdf, b, width) > pdf.page_break_trigger:  # caption with first rows
                    pdf.add_page()
                pdf.set_font("dejavu", "I", 8)
                pdf.multi_cell(width, CAPTION_LINE, b.caption, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("dejavu", "", size)
            with pdf.table(col_widths=widths, text_align="LEFT", line_height=size * 0.45, padding=PAD,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
                           first_row_as_headings=True, width=width) as table:
                for row in [b.headers] + b.rows:
                    r = table.row()
                    for cell in row:
                        r.cell(_glue(str(cell)))
            pdf.ln(3)
        elif isinstance(b, Numbered):
            pdf.set_font("dejavu", "", BODY_PT)
            for i, item in enumerate(b.items, 1):
                pdf.multi_cell(width, BODY_LINE, f"{i}. " + _plain(item), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif isinstance(b, Image):
            img = root / b.path
            if not img.exists():
                continue
            if pdf.floats or not pdf.fits(img, b.caption):  # keep the figures in order
                pdf.floats.append((img, b.caption))
            else:
                pdf.place(img, b.caption)
        elif isinstance(b, Code):
            pdf.set_font("dejavumono", "", 7)
            pdf.multi_cell(width, 3.6, b.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
    while pdf.floats:  # figures still waiting at the end: on pages of their own
        pdf.add_page()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(path), bytes(pdf.output()))  # never a half-written PDF
