"""A private certificate authority and a loopback server certificate for the Salesforce emulator.

simple-salesforce builds only ``https://`` URLs, so the emulator must speak TLS. Clients keep
verification on and trust ``ca.pem`` (a ``requests.Session`` with ``verify`` set to it).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertPaths:
    ca_file: Path
    cert_file: Path
    key_file: Path


LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")


def ensure_certificates(directory: Path, extra_hostnames: tuple[str, ...] = ()) -> CertPaths:
    """Create the CA and server certificate in ``directory`` at first use; reuse them after.

    ``extra_hostnames`` are names other machines use to reach the emulators (a compose service
    name); the certificate is made again when they change.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = CertPaths(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    names_file = directory / "names.txt"
    wanted = "\n".join(sorted({*LOOPBACK_NAMES, *extra_hostnames}))
    existing = names_file.read_text() if names_file.exists() else "\n".join(LOOPBACK_NAMES)
    if existing == wanted and all(p.exists() for p in (paths.ca_file, paths.cert_file, paths.key_file)):
        return paths
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lesync emulator CA")])
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in sorted({*LOOPBACK_NAMES, *extra_hostnames})]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths.key_file.chmod(0o600)
    paths.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    names_file.write_text(wanted)
    return paths
