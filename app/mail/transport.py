"""SMTP: the server named by `GPO_SMTP_URL`, and sending a batch of messages to it.

Sending uses the standard library's `smtplib` in a thread (`asyncio.to_thread`): the worker
sends a few mails a round over one connection, so an asynchronous client would add a
dependency for no gain.

`smtp://[user:pass@]host[:port]` (port 587 by default) upgrades to TLS with STARTTLS when the
server offers it, and requires it when the URL carries credentials (a password never goes in
clear); `smtps://` (port 465) is TLS from the start. The password is kept in a SecretStr
setting and never appears in a message or a log line.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

TIMEOUT = 10.0
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def implicit_tls(self) -> bool:
        return self.scheme == "smtps"


def parse_smtp_url(url: str) -> SmtpServer:
    """The server of an `smtp://` or `smtps://` URL; ValueError saying what is wrong (never
    repeating the URL, which may hold a password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("is not a valid URL (smtp://user:pass@host:587 or smtps://host)") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)")
    if not parts.hostname:
        raise ValueError("names no host (smtp://user:pass@host:587)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("takes no path, query or fragment: smtp://user:pass@host:port")
    if (parts.username is None) != (parts.password is None) or parts.username == "":
        raise ValueError("gives a user without a password (or the reverse)")
    return SmtpServer(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def check_address(value: str) -> str:
    """A `From` address: `Name <a@b>` or `a@b`."""
    _name, address = parseaddr(value)
    if "@" not in address or any(c.isspace() for c in address):
        raise ValueError("must be an e-mail address, such as GPO <no-reply@example.fr>")
    return value


@dataclass(frozen=True)
class Outgoing:
    """A composed mail, ready to send."""

    to: str
    to_name: str
    subject: str
    text: str
    html: str

    def message(self, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = formataddr((self.to_name, self.to))
        message["Subject"] = self.subject
        message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


@dataclass(frozen=True)
class Result:
    """How one message went: sent, or an error and whether trying again may help."""

    error: str | None = None
    retry: bool = False

    @property
    def sent(self) -> bool:
        return self.error is None


def _connect(server: SmtpServer) -> smtplib.SMTP:
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if server.implicit_tls:
        connection = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT, context=context)
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
        connection.ehlo()
        if connection.has_extn("starttls"):
            connection.starttls(context=context)
            connection.ehlo()
        elif server.username is not None:
            connection.close()
            raise smtplib.SMTPNotSupportedError("the server offers no STARTTLS for the password")
    if server.username is not None and server.password is not None:
        connection.login(server.username, server.password)
    return connection


def _error(exc: BaseException) -> Result:
    """Permanent when the server refuses (5xx), else worth retrying (4xx, network)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return Result(f"recipient refused ({codes[0] if codes else '?'})", retry=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        return Result(f"SMTP {exc.smtp_code}", retry=exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Result("no STARTTLS offered: the password is not sent in clear", retry=True)
    return Result(type(exc).__name__, retry=True)


def send_batch(server: SmtpServer, sender: str, outgoing: list[Outgoing]) -> list[Result]:
    """Send each message over one connection (blocking: run it in a thread). A failure to
    connect, or a dropped connection, leaves the rest to retry."""
    try:
        connection = _connect(server)
    except (OSError, smtplib.SMTPException) as exc:
        return [_error(exc)] * len(outgoing)
    results: list[Result] = []
    try:
        for mail in outgoing:
            try:
                connection.send_message(mail.message(sender))
                results.append(Result())
            except smtplib.SMTPServerDisconnected as exc:
                results.append(_error(exc))
                break
            except (OSError, smtplib.SMTPException) as exc:
                results.append(_error(exc))
                if isinstance(exc, OSError):
                    break
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
    missing = len(outgoing) - len(results)
    return results + [Result("connection lost", retry=True)] * missing
