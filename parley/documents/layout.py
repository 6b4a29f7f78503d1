"""What a document says, independent of how it is shown: one structure that the printable HTML
page and the PDF are both rendered from (`parley.documents.render`), so the two can never say
different things. The validation notice and the written agreement are both built as this.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A heading with, in order: paragraphs, a two-column table of label and value (amounts,
    dates), and a list. Any of them may be empty."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    rows: tuple[tuple[str, str], ...] = ()
    bullets: tuple[str, ...] = ()
    # A row of the table shown in bold (its label): the total that the rows add up to.
    total_label: str | None = None


@dataclass(frozen=True)
class Document:
    """A page the debtor can keep: who it is from, who it is to, the sections, and a footer."""

    title: str
    filename: str  # for the PDF download, without extension
    sender: tuple[str, ...]  # the collector's name and address lines
    recipient: tuple[str, ...]  # the debtor's name and address lines
    date_line: str
    sections: tuple[Section, ...] = field(default_factory=tuple)
    footer: str = ""

    def text(self) -> str:
        """Everything the document says, as plain text (tests and the email body's fallback)."""
        lines = [self.title, *self.sender, *self.recipient, self.date_line]
        for section in self.sections:
            lines.append(section.heading)
            lines.extend(section.paragraphs)
            lines.extend(f"{label}: {value}" for label, value in section.rows)
            lines.extend(section.bullets)
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)
