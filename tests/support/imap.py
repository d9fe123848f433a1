"""A real IMAP server on loopback for the tests: Debian's dovecot (dovecot-imapd), configured in a temp folder and
run as the current user, with one mailbox user (a passwd-file), maildir storage in that folder, and a self-signed
certificate (made by the openssl CLI) for imaps:// and STARTTLS; and helpers to put a message in the mailbox
(IMAP APPEND, unread) and read the mailbox's flags back.

`dovecot_server` skips the test where dovecot is not installed, saying how to install it; in CI (CI=true) that is
an error instead, so the tests always run there.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.environment import IN_CI
from tests.support.mail import Certificate, free_port, self_signed_certificate

DOVECOT = Path("/usr/sbin/dovecot")
ENABLE_HINT = "the IMAP tests need Debian's dovecot: apt-get install dovecot-imapd"
USER, PASSWORD = "support", "s3cret pass"
START_TIMEOUT_SECONDS = 20
RUN_AS_WHEN_ROOT = "dovecot"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    tls_port: int
    folder: Path
    certificate: Certificate

    def url(self, *, tls: str = "starttls", password: str = PASSWORD, mailbox: str = "INBOX") -> str:
        """BILLING_DESK_IMAP_URL for this server: tls "starttls" (imap:// on the plain port) or "implicit"."""
        secret = quote(password, safe="")
        if tls == "implicit":
            return f"imaps://{USER}:{secret}@{self.host}:{self.tls_port}/{mailbox}"
        return f"imap://{USER}:{secret}@{self.host}:{self.port}/{mailbox}?starttls=true"

    @contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        """A session of our own (STARTTLS, logged in, INBOX selected) to put messages in and read flags."""
        context = ssl.create_default_context(cafile=str(self.certificate.cert))
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.starttls(ssl_context=context)
            client.login(USER, PASSWORD)
            client.select("INBOX")
            yield client
        finally:
            client.logout()

    def deliver(self, message: EmailMessage | bytes, *, folder: str = "INBOX") -> None:
        """Put the message in the mailbox, unread, as a mail server would deliver it."""
        data = bytes(message) if isinstance(message, EmailMessage) else message
        with self.client() as client:
            status, reply = client.append(folder, "", imaplib.Time2Internaldate(time.time()), data)
            assert status == "OK", reply

    def clear(self) -> None:
        """Empty the mailbox (between tests that share the server)."""
        with self.client() as client:
            status, data = client.search(None, "ALL")
            if status == "OK" and data and data[0]:
                client.store("1:*", "+FLAGS", "(\\Deleted)")
                client.expunge()

    def flags(self) -> list[set[str]]:
        """Each message's flags, in mailbox order."""
        with self.client() as client:
            status, data = client.fetch("1:*", "(FLAGS)")
            if status != "OK" or data == [None]:
                return []
            found = []
            for line in data:
                text = line.decode() if isinstance(line, bytes) else ""
                inside = text.partition("FLAGS (")[2].partition(")")[0]
                found.append(set(inside.split()))
            return found

    def unseen(self) -> int:
        return sum("\\Seen" not in flags for flags in self.flags())


def unavailable_reason() -> str | None:
    if not DOVECOT.is_file():
        return ENABLE_HINT
    return None


def _account() -> pwd.struct_passwd:
    """Who dovecot runs as: the current user, or as root (its login processes refuse root) the dovecot user the
    Debian package creates."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    return pwd.getpwnam(RUN_AS_WHEN_ROOT)


def _config(
    folder: Path, port: int, tls_port: int, certificate: Certificate, account: pwd.struct_passwd
) -> Path:
    user, uid, gid = account.pw_name, account.pw_uid, account.pw_gid
    group = grp.getgrgid(gid).gr_name
    (folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    for sub in ("run", "state", "mail", "home"):
        (folder / sub).mkdir()
    config = folder / "dovecot.conf"
    config.write_text(f"""\
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = billing-desk-test-{port}
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{folder}/mail/%u
ssl = yes
ssl_cert = <{certificate.cert}
ssl_key = <{certificate.key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service auth-worker {{
  user = {user}
}}
service stats {{
  chroot =
}}
""")
    return config


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot stopped at once: {log.read_text() if log.exists() else ''}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"dovecot did not listen on {port} within {START_TIMEOUT_SECONDS} s")


@contextmanager
def dovecot_server() -> Iterator[ImapServer]:
    """dovecot on 127.0.0.1 (STARTTLS on one free port, TLS on another) for the block, in a folder of its own
    under the system's temp folder (its sockets need a short path; as root it runs as another user, who must
    reach it); stopped and removed after."""
    reason = unavailable_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    account = _account()
    folder = Path(tempfile.mkdtemp(prefix="bd-dovecot-"))
    try:
        folder.chmod(0o755)
        certificate = self_signed_certificate(folder)
        port, tls_port = free_port(), free_port()
        config = _config(folder, port, tls_port, certificate, account)
        command = [str(DOVECOT), "-F", "-c", str(config)]
        if os.geteuid() == 0:
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
            command = ["runuser", "-u", account.pw_name, "--", *command]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            _wait_for(port, process, folder / "dovecot.log")
            _wait_for(tls_port, process, folder / "dovecot.log")
            yield ImapServer("127.0.0.1", port, tls_port, folder, certificate)
        finally:
            _stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The server and its helpers (its own process group, started above) asked to stop, then killed."""
    for signal_number, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal_number)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def trust(certificate: Certificate, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process (and the processes it starts) trust the test server's certificate."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))


def customer_mail(
    *,
    sender: str = "Ann Payable <ann@contoso.example>",
    to: str = "Support <support@partner.example>",
    subject: str = "Question about invoice INV-1001",
    text: str = "Hello,\nwhy was INV-1001 charged twice?\nAnn\n",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    html: str | None = None,
) -> EmailMessage:
    """A customer's e-mail as their mail program would write it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(domain="contoso.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message
