"""Certificates for tests: a self-signed server certificate for 127.0.0.1, and a small client-certificate PKI."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(signer, hashes.SHA256())


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def self_signed(directory: Path, ip: str = "127.0.0.1") -> tuple[Path, Path]:
    """(certificate, key) for a TLS server at `ip`; the certificate is its own trust anchor."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(
        _name("fake-upstream"),
        _name("fake-upstream"),
        key,
        key,
        [
            (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False),
            (x509.BasicConstraints(ca=True, path_length=None), True),
        ],
    )
    return _write(directory, "upstream", cert, key)


def client_pki(directory: Path, spiffe_id: str) -> dict[str, Path]:
    """A CA (the trust bundle), a client certificate it signed for `spiffe_id`, and an untrusted self-signed one."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(
        _name("workload-ca"),
        _name("workload-ca"),
        ca_key,
        ca_key,
        [
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ],
    )
    files = {"ca": directory / "workload-ca.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name in ("trusted", "untrusted"):
        key = ec.generate_private_key(ec.SECP256R1())
        issuer, signer = (ca.subject, ca_key) if name == "trusted" else (_name("workload"), key)
        cert = _certificate(
            _name("workload"),
            issuer,
            key,
            signer,
            [
                (x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), False),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False),
            ],
        )
        files[f"{name}_cert"], files[f"{name}_key"] = _write(directory, name, cert, key)
    return files
