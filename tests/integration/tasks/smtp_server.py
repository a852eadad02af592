"""A tiny SMTP server on loopback for the email tests: it speaks just enough of RFC 5321 (EHLO, AUTH
PLAIN, MAIL, RCPT, DATA, RSET, QUIT, and STARTTLS or TLS from the first byte when given a
certificate) and keeps what it received."""

from __future__ import annotations

import base64
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0


class _Session(socketserver.StreamRequestHandler):
    mailbox: Mailbox
    tls: ssl.SSLContext | None = None
    implicit_tls: bool = False

    def setup(self) -> None:
        if self.tls is not None and self.implicit_tls:
            self.request = self.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def _start_tls(self) -> None:
        assert self.tls is not None
        self.wfile.flush()
        self.request = self.tls.wrap_socket(self.request, server_side=True)
        self.rfile = self.request.makefile("rb")
        self.wfile = socketserver._SocketWriter(self.request)  # type: ignore[attr-defined]

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 test SMTP ready")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                starttls = self.tls is not None and not self.implicit_tls
                self.wfile.write(
                    b"250-test greets you\r\n"
                    + (b"250-STARTTLS\r\n" if starttls else b"")
                    + b"250 AUTH PLAIN\r\n"
                )
            elif verb == "STARTTLS":
                self.reply("220 go ahead")
                self._start_tls()
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                self.mailbox.logins.append((user, password))
                self.reply("235 authenticated")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip().strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = bytearray()
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.extend(chunk[1:] if chunk.startswith(b"..") else chunk)
                message = message_from_bytes(bytes(data), policy=policy.default)
                assert isinstance(message, EmailMessage)
                self.mailbox.messages.append(Received(sender, recipients, message))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP
                self.reply("250 OK")


@contextmanager
def smtp_server(tls: ssl.SSLContext | None = None, implicit_tls: bool = False) -> Iterator[Mailbox]:
    """`tls`: the server's certificate context; with `implicit_tls` TLS starts at once (SMTPS), else
    the server offers STARTTLS."""
    mailbox = Mailbox()
    handler = type("Session", (_Session,), {"mailbox": mailbox, "tls": tls, "implicit_tls": implicit_tls})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    mailbox.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mailbox
    finally:
        server.shutdown()
        server.server_close()
