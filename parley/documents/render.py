"""A `Document` as a printable HTML page (Jinja2, the template in `templates/`) and as a PDF
(fpdf2). One structure in, two formats out: the page and the PDF say the same things.

The PDF uses fpdf2's built-in Helvetica, so no font file has to be found on the machine or
shipped. Those core fonts cover Latin-1 only (é, ñ, ü, ß are printed as written); any other
character (a Polish Ł, Cyrillic, Greek, Chinese, typographic dashes and quotes) is transliterated
to Latin letters with `anyascii` ("Łukasz" -> "Lukasz", "Дмитрий" -> "Dmitriy"), never dropped
and never left to fail the PDF. The HTML page shows every name exactly as written.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from anyascii import anyascii
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from parley.documents.layout import Document

TEMPLATES = Path(__file__).resolve().parent / "templates"
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")
_OUTSIDE_LATIN1 = re.compile(r"[^\x00-\xff]+")


def linkify(text: str) -> Markup:
    """Escape the text and make its http(s) addresses links (the rest stays plain text)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(escape(text[last : match.start()]))
        url = escape(match.group(0))
        out.append(Markup(f'<a href="{url}" rel="noopener noreferrer">{url}</a>'))  # noqa: S704 - escaped above
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["linkify"] = linkify
    return env


def to_html(document: Document, *, pdf_url: str | None = None) -> str:
    """The printable page; `pdf_url` adds a download link (hidden when printed)."""
    return _environment().get_template("document.html").render(doc=document, pdf_url=pdf_url)


def pdf_text(text: str) -> str:
    """Text the PDF's Latin-1 core font can print: Latin-1 kept, anything else transliterated."""
    return _OUTSIDE_LATIN1.sub(lambda match: anyascii(match.group(0)) or "?", text)


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("helvetica", size=8)
        self.set_text_color(90)
        self.cell(0, 5, pdf_text(f"Page {self.page_no()}/{{nb}}"), align="R")
        self.set_text_color(0)


def to_pdf(document: Document) -> bytes:
    """The same document as a Letter-size PDF."""
    pdf = _Pdf(format="Letter")
    pdf.set_title(pdf_text(document.title))
    pdf.set_author(pdf_text(document.sender[0] if document.sender else ""))
    pdf.set_creator("Parley")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 16, 18)
    pdf.add_page()
    width = pdf.epw
    top = pdf.get_y()
    pdf.set_font("helvetica", "B", 10)
    for index, line in enumerate(document.sender):
        if index == 1:
            pdf.set_font("helvetica", size=10)
        pdf.multi_cell(width / 2 - 4, 5, pdf_text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    pdf.set_font("helvetica", size=10)
    for line in document.recipient:
        pdf.set_x(pdf.l_margin + width / 2 + 4)
        pdf.multi_cell(width / 2 - 4, 5, pdf_text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 3)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 15)
    pdf.multi_cell(width, 7, pdf_text(document.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=9)
    pdf.multi_cell(width, 5, pdf_text(document.date_line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in document.sections:
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 11)
        pdf.multi_cell(width, 6, pdf_text(section.heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("helvetica", size=10)
        for paragraph in section.paragraphs:
            pdf.multi_cell(width, 5, pdf_text(paragraph), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1.5)
        for label, value in section.rows:
            pdf.set_font("helvetica", "B" if label == section.total_label else "", 10)
            _row(pdf, pdf_text(label), pdf_text(value))
        pdf.set_font("helvetica", size=10)
        for item in section.bullets:
            pdf.set_x(pdf.l_margin + 3)
            pdf.multi_cell(width - 3, 5, pdf_text(f"- {item}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if document.footer:
        pdf.ln(4)
        pdf.set_font("helvetica", size=8)
        pdf.multi_cell(width, 4, pdf_text(document.footer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _row(pdf: FPDF, label: str, value: str) -> None:
    """One label / value line of a table, the value right-aligned, kept on one page."""
    label_width, value_width = pdf.epw * 0.68, pdf.epw * 0.32
    height = max(_height(pdf, label_width, label), _height(pdf, value_width, value))
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
    y = pdf.get_y()
    pdf.multi_cell(label_width, 5.5, label, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin + label_width, y)
    pdf.multi_cell(value_width, 5.5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(y + height)


def _height(pdf: FPDF, width: float, text: str) -> float:
    measured = pdf.multi_cell(width, 5.5, text, dry_run=True, output=MethodReturnValue.HEIGHT)
    return float(measured)  # type: ignore[arg-type] # HEIGHT asks for the height alone
