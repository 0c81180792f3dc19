"""Message signatures: the RSA key and certificate SNS messages are signed with.

The key and a self-signed certificate are created at start and kept in the data
directory (or in memory with ``--in-memory``); receivers fetch the certificate from
``SigningCertURL`` and verify ``Signature`` exactly as they would for AWS.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import logging
import os
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

log = logging.getLogger("postroom.sns.signing")

CERT_PATH = "/_postroom/sns/SimpleNotificationService.pem"
KEY_FILE = "sns-signing-key.pem"
CERT_FILE = "sns-signing-cert.pem"

# The fields each message type signs, in the order AWS concatenates them.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def string_to_sign(message: dict[str, str]) -> bytes:
    """The canonical 'Name\\nValue\\n' text of a message's signed fields."""
    parts = []
    for field in SIGNED_FIELDS[message["Type"]]:
        if field in message and message[field] is not None:
            parts.append(f"{field}\n{message[field]}\n")
    return "".join(parts).encode()


class Signer:
    """Signs messages with a key created once and kept in ``directory`` (or in memory).

    ``start`` loads the pair, or creates it when it is missing or unusable (an empty or
    mismatched file left by a full disk or a crash), off the event loop; files are written
    atomically, so a reader only ever sees a whole key and certificate."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._key: rsa.RSAPrivateKey | None = None
        self._cert_pem: bytes | None = None
        self._cert_path: str | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is not None:
                return self._key
            key_file = self._directory / KEY_FILE if self._directory else None
            cert_file = self._directory / CERT_FILE if self._directory else None
            if key_file is not None and cert_file is not None:
                loaded = _read_pair(key_file, cert_file)
                if loaded is not None:
                    self._key, self._cert_pem = loaded
                    return loaded[0]
            key, cert_pem = _new_pair()
            if key_file is not None and cert_file is not None:
                key_pem = key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                try:
                    # Key first: a crash between the two leaves a mismatched pair, which the
                    # next start detects and replaces.
                    write_atomically(key_file, key_pem)
                    write_atomically(cert_file, cert_pem)
                except OSError as error:
                    log.error(
                        "could not store the SNS signing key (%s); using one kept in memory until "
                        "the next start", error,
                    )
            self._key, self._cert_pem = key, cert_pem
            return key

    def certificate_pem(self) -> bytes:
        self._load()
        assert self._cert_pem is not None
        return self._cert_pem

    def cert_path(self) -> str:
        """Where the certificate is served, named like AWS's (a digest of the certificate)."""
        if self._cert_path is None:
            digest = hashlib.md5(self.certificate_pem(), usedforsecurity=False).hexdigest()
            self._cert_path = f"/_postroom/sns/SimpleNotificationService-{digest}.pem"
        return self._cert_path

    def sign(self, message: dict[str, str], version: str) -> str:
        """Base64 signature: SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA.

        CPU-bound (about a millisecond): call it from a worker thread, or use ``sign_async``."""
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - AWS's v1 is SHA1
        signature = self._load().sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
        return base64.b64encode(signature).decode()

    async def sign_async(self, message: dict[str, str], version: str) -> str:
        return await asyncio.to_thread(self.sign, message, version)


def _new_pair() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.postroom.local")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _read_pair(key_file: Path, cert_file: Path) -> tuple[rsa.RSAPrivateKey, bytes] | None:
    """The stored key and certificate if both parse and belong together, else None."""
    if not key_file.exists() and not cert_file.exists():
        return None
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        cert_pem = cert_file.read_bytes()
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (OSError, ValueError, TypeError) as error:
        log.warning("the stored SNS signing key or certificate is unusable (%s); creating a new pair", error)
        return None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if not isinstance(key, rsa.RSAPrivateKey) or key.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) != cert.public_key().public_bytes(serialization.Encoding.DER, public):
        log.warning("the stored SNS signing certificate does not match its key; creating a new pair")
        return None
    return key, cert_pem


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` all at once: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
