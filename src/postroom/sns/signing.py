"""Message signatures: the RSA key and certificate SNS messages are signed with.

The key and a self-signed certificate are created on first use and kept in the data
directory (or in memory with ``--in-memory``); receivers fetch the certificate from
``SigningCertURL`` and verify ``Signature`` exactly as they would for AWS.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CERT_PATH = "/_postroom/sns/SimpleNotificationService.pem"

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
    """Signs messages with a key created once and kept in ``directory`` (or in memory)."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._key: rsa.RSAPrivateKey | None = None
        self._cert_pem: bytes | None = None
        self._cert_path: str | None = None
        self._lock = threading.Lock()

    def _load(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is not None:
                return self._key
            key_file = self._directory / "sns-signing-key.pem" if self._directory else None
            cert_file = self._directory / "sns-signing-cert.pem" if self._directory else None
            if key_file is not None and cert_file is not None and key_file.exists() and cert_file.exists():
                key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
                assert isinstance(key, rsa.RSAPrivateKey)
                self._key, self._cert_pem = key, cert_file.read_bytes()
                return key
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
            cert_pem = cert.public_bytes(serialization.Encoding.PEM)
            if key_file is not None and cert_file is not None:
                key_file.write_bytes(key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ))
                key_file.chmod(0o600)
                cert_file.write_bytes(cert_pem)
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
        """Base64 signature: SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA."""
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - AWS's v1 is SHA1
        signature = self._load().sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
        return base64.b64encode(signature).decode()
