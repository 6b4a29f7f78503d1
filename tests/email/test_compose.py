"""The message's text and HTML (parley/email/compose.py): the footer, escaping, links, subject."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from parley.email import compose

LINK = "https://parley.example/unsubscribe/TOKEN"
STATEMENT = "Acme <Recovery> & Co is a debt collector."


def test_the_footer_carries_the_statement_and_the_unsubscribe_line_once() -> None:
    text = compose.full_text("Hello.\r\nSecond line.\r\n", STATEMENT, LINK)
    assert text == (
        f"Hello.\nSecond line.\n\n--\n{STATEMENT}\n"
        f"To stop emails from us, unsubscribe here: {LINK}\n"
    )
    already = compose.full_text(f"Hi. {STATEMENT}", STATEMENT, LINK)
    assert already.count(STATEMENT) == 1 and LINK in already


def test_the_html_is_the_text_escaped_with_links_as_anchors() -> None:
    text = compose.full_text(
        "Pay at https://pay.example/x?a=1&b=2. Or chat (https://chat.example/).\n"
        '<script>alert("x")</script>',
        STATEMENT,
        LINK,
    )
    html = compose.html_from_text(text, 'Subject "quoted" <b>')
    assert (
        '<a href="https://pay.example/x?a=1&amp;b=2">https://pay.example/x?a=1&amp;b=2</a>.' in html
    )
    assert '<a href="https://chat.example/">https://chat.example/</a>).' in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html and "<script>" not in html
    assert "Acme &lt;Recovery&gt; &amp; Co is a debt collector." in html
    assert f'<a href="{LINK}">{LINK}</a>' in html
    assert "<title>Subject &quot;quoted&quot; &lt;b&gt;</title>" in html
    assert "<hr" in html  # the footer is set apart


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Your account", "Your account"),
        ("Two\r\nlines\tand  spaces", "Two lines and spaces"),
        ("x" * 300, "x" * 200),
    ],
)
def test_the_subject_is_one_clean_line(raw: str, clean: str) -> None:
    assert compose.clean_subject(raw) == clean


def test_an_empty_subject_is_refused() -> None:
    with pytest.raises(ValueError, match="subject"):
        compose.clean_subject(" \r\n\t")


def test_a_header_cannot_be_injected_through_the_message() -> None:
    message = compose.build_message(
        sender="Acme <c@acme.example>",
        to="m@example.com",
        subject=compose.clean_subject("Hi\r\nBcc: victim@example.com"),
        text="Body",
        message_id=compose.new_message_id("Acme <c@acme.example>"),
        unsubscribe_url=LINK,
        unsubscribe_mailto=None,
        date=datetime(2025, 6, 10, tzinfo=timezone.utc),
    )
    assert message["Bcc"] is None and message["Subject"] == "Hi Bcc: victim@example.com"
    assert message["List-Unsubscribe"] == f"<{LINK}>"
    assert str(message["Message-ID"]).endswith("@acme.example>")
