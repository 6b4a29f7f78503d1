"""The SMTP transport's TLS modes against real servers on loopback with a test certificate:
implicit TLS (`smtps://`) and STARTTLS (`?starttls=true`), each with the certificate checked
(an untrusted one is refused, nothing sent), and the SMTP URL's options reaching smtplib."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from devstack.stack import free_port
from parley.email.smtp_url import parse_smtp_url
from parley.email.transport import UNREACHABLE, SendFailed, SmtpTransport
from parley.tables import OutboundStatus
from tests.email.conftest import Relay


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "c@parley.example", "m@example.com", "Hi"
    message.set_content("Hello")
    return message


@pytest.fixture
def implicit_tls(certificate: tuple[Path, Path]) -> Iterator[tuple[Relay, int]]:
    relay, port = Relay(), free_port()
    controller = Controller(
        relay, hostname="127.0.0.1", port=port, ssl_context=_server_context(certificate)
    )
    controller.start()
    yield relay, port
    controller.stop()


@pytest.fixture
def starttls_only(certificate: tuple[Path, Path]) -> Iterator[tuple[Relay, int]]:
    relay, port = Relay(), free_port()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_context(certificate),
        require_starttls=True,
    )
    controller.start()
    yield relay, port
    controller.stop()


def test_smtps_sends_over_implicit_tls(
    implicit_tls: tuple[Relay, int], certificate: tuple[Path, Path]
) -> None:
    relay, port = implicit_tls
    config = parse_smtp_url(f"smtps://127.0.0.1:{port}")
    result = SmtpTransport(config, timeout=5, ssl_context=_trusting(certificate)).send(_message())
    assert result.status == OutboundStatus.SENT
    assert [r.message["Subject"] for r in relay.received] == ["Hi"]


def test_smtps_refuses_a_certificate_it_cannot_verify(implicit_tls: tuple[Relay, int]) -> None:
    relay, port = implicit_tls
    config = parse_smtp_url(f"smtps://127.0.0.1:{port}")
    with pytest.raises(SendFailed) as failed:
        SmtpTransport(config, timeout=5).send(_message())  # the system's trust store
    assert failed.value.delivery_status == UNREACHABLE
    assert "CERTIFICATE_VERIFY_FAILED" in failed.value.detail
    assert relay.received == []


def test_starttls_upgrades_before_sending(
    starttls_only: tuple[Relay, int], certificate: tuple[Path, Path]
) -> None:
    relay, port = starttls_only
    config = parse_smtp_url(f"smtp://127.0.0.1:{port}?starttls=true")
    SmtpTransport(config, timeout=5, ssl_context=_trusting(certificate)).send(_message())
    assert len(relay.received) == 1


def test_starttls_refuses_a_certificate_it_cannot_verify(starttls_only: tuple[Relay, int]) -> None:
    relay, port = starttls_only
    config = parse_smtp_url(f"smtp://127.0.0.1:{port}?starttls=true")
    with pytest.raises(SendFailed, match="CERTIFICATE_VERIFY_FAILED"):
        SmtpTransport(config, timeout=5).send(_message())
    assert relay.received == []


def test_without_starttls_a_server_that_requires_it_refuses_and_nothing_is_sent(
    starttls_only: tuple[Relay, int],
) -> None:
    relay, port = starttls_only
    with pytest.raises(SendFailed) as failed:
        SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}"), timeout=5).send(_message())
    assert failed.value.delivery_status == "smtp 530"
    assert relay.received == []
