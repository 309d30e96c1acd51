"""Certificates for rollsite and Pulsar/Traffic Server TLS, issued by the stack from its CA (`cryptography`).

Issuing happens in the program, so it must give the same result on every run (or every `pulumi up` would rotate
keys). Leaf keys are therefore derived from the CA key with HKDF (label: subject, usage and rotation), serial
numbers likewise, validity starts at a configured date, and signatures are deterministic ECDSA (RFC 6979).
The same inputs give byte-identical certificates; a new `validFrom` (or a new CA) rotates them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .outputs import OrOutput, lift

_ORDER_P256 = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


@dataclass(frozen=True)
class Issued:
    certificate: str  # PEM
    private_key: str  # PKCS#8 PEM (what eggroll and Pulsar read)


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate (public) and private key (secret config)."""

    certificate_pem: str
    key_pem: str

    def __post_init__(self) -> None:
        cert = x509.load_pem_x509_certificate(self.certificate_pem.encode())
        key = serialization.load_pem_private_key(self.key_pem.encode(), password=None)
        if not same_key(cert, key):
            raise ValueError("the CA key does not belong to the CA certificate")

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):  # leaves are derived on P-256 (see _leaf_key)
            raise ValueError("the CA key must be an EC key (fate-pulumi ca makes a P-256 one)")
        return key


def key_problem(certificate_pem: str, key_pem: str) -> Optional[str]:
    """What keeps a private key from being the CA key of this certificate (the stack's tlsCaKey), None if nothing."""
    try:
        private = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as err:
        return f"not a PEM private key without password ({err})"
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        # the stack signs with deterministic ECDSA (the same certificates on every run: see above)
        return "must be an EC key (fate-pulumi ca makes a P-256 one)"
    if not same_key(x509.load_pem_x509_certificate(certificate_pem.encode()), private):
        return "does not belong to tls.caCertificate"
    return None


def same_key(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """Whether a private key belongs to a certificate (their public keys, as SubjectPublicKeyInfo, are equal)."""
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki))


def new_authority(common_name: str, days: int = 3650) -> Authority:
    """A new CA with a random P-256 key (for `fate-pulumi ca`, run once per party or federation)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Authority(cert.public_bytes(serialization.Encoding.PEM).decode(), _pkcs8(key))


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _derive(ca: Authority, label: str, length: int = 48) -> int:
    secret = ca.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    return int.from_bytes(
        HKDF(hashes.SHA256(), length, salt=b"fate-pulumi tls v1", info=label.encode()).derive(secret), "big"
    )


def issue(ca: Authority, common_name: str, sans: Sequence[str], server: bool, client: bool, valid_from: dt.date,
          days: int = 365, rotation: str = "") -> Issued:
    """A leaf certificate and key for `common_name` (+ DNS/IP SANs), the same for the same inputs."""
    label = (
        f"{common_name}|{'server' if server else ''}{'client' if client else ''}|{valid_from.isoformat()}|{rotation}"
    )
    key = ec.derive_private_key(_derive(ca, "key|" + label) % (_ORDER_P256 - 1) + 1, ec.SECP256R1())
    serial = _derive(ca, "serial|" + label, 19) >> 1 or 1  # positive, at most 20 bytes
    start = dt.datetime.combine(valid_from, dt.time(), tzinfo=dt.timezone.utc)
    alt_names: list[x509.GeneralName] = []
    for san in dict.fromkeys(sans):
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            alt_names.append(x509.DNSName(san))
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(serial)
               .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_agreement=True,
                                            content_commitment=False, data_encipherment=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256(), ecdsa_deterministic=True)
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pkcs8(key))


def bundle(ca: Authority, trusted: Sequence[str]) -> str:
    """The CA file a party verifies peers with: its own CA and its peers' (each party may have its own CA)."""
    return "".join(dict.fromkeys([ca.certificate_pem.strip() + "\n", *(t.strip() + "\n" for t in trusted)]))


RENEWAL_EPOCH = dt.date(2026, 1, 1)  # where renewal windows are counted from (any fixed day would do)


def renewing_start(today: dt.date, days: int, renew_before: int) -> dt.date:
    """The start of validity of certificates that renew: windows of `days - renew_before` days from a fixed epoch, so
    the start (and with it every issued certificate) stays the same within a window — no churn on `pulumi up` — and
    moves on `renew_before` days before the certificates of the previous window expire."""
    window = days - renew_before
    return RENEWAL_EPOCH + dt.timedelta(days=((today - RENEWAL_EPOCH).days // window) * window)


@dataclass(frozen=True)
class TlsPlan:
    """What the stack issues from its CA."""

    ca_certificate: str  # PEM of the CA (tls.caCertificate): public, what peers trust
    # its private key (tlsCaKey); an Output when a deployment component was given one (a secret another resource
    # holds): the certificates are then issued in its apply, and the Secrets that hold them created now all the same
    # (components/outputs.py)
    ca_key: OrOutput[str]
    trusted: tuple[str, ...] = ()
    valid_from: dt.date = RENEWAL_EPOCH
    days: int = 365
    domain: str = "fate.org"  # the federation's domain (tls.domain): the exchange proxy is proxy.<domain>

    @property
    def expires(self) -> dt.date:
        """The day every certificate of this plan stops being valid."""
        return self.valid_from + dt.timedelta(days=self.days)

    def _issued(self, material: Callable[[Authority], dict[str, str]]) -> OrOutput[dict[str, str]]:
        """A Secret's certificates from the CA, once its key is known. The config checks read a key given as text
        (stacks/config.py); one given as an Output that does not fit fails here, under the same key."""
        def issued(key_pem: str) -> dict[str, str]:
            problem = key_problem(self.ca_certificate, key_pem)
            if problem:
                raise pulumi.RunError(f"fate:tlsCaKey: {problem}")
            return material(Authority(self.ca_certificate, key_pem))

        return lift(issued, self.ca_key)

    def eggroll_certs(self, hosts: Sequence[str]) -> OrOutput[dict[str, str]]:
        """Secret eggroll-certs: ca.pem, server.crt/.key, client.crt/.key (rollsite mutual TLS). `hosts`: every
        address a peer dials (grpc-java checks the server certificate against the route's host)."""
        def material(ca: Authority) -> dict[str, str]:
            server = issue(ca, "rollsite", ["rollsite", *hosts], True, False, self.valid_from, self.days)
            client = issue(ca, "rollsite-client", ["rollsite"], False, True, self.valid_from, self.days)
            return {
                "ca.pem": bundle(ca, self.trusted),
                "server.crt": server.certificate,
                "server.key": server.private_key,
                "client.crt": client.certificate,
                "client.key": client.private_key,
            }

        return self._issued(material)

    def pulsar_cert(self, party_id: int, domain: str, hosts: Sequence[str]) -> OrOutput[dict[str, str]]:
        """Secret pulsar-cert: the broker's certificate for <partyId>.<domain> (the exchange routes by SNI)."""
        def material(ca: Authority) -> dict[str, str]:
            broker = issue(ca, f"{party_id}.{domain}", [f"{party_id}.{domain}", "pulsar", *hosts], True, True,
                           self.valid_from, self.days)
            return {"broker.cert.pem": broker.certificate, "broker.key-pk8.pem": broker.private_key,
                    "ca.cert.pem": bundle(ca, self.trusted)}

        return self._issued(material)

    def traffic_server_cert(self, domain: str, hosts: Sequence[str]) -> OrOutput[dict[str, str]]:
        """Secret traffic-server-cert: the exchange proxy's certificate for proxy.<domain>."""
        def material(ca: Authority) -> dict[str, str]:
            proxy = issue(ca, f"proxy.{domain}", [f"proxy.{domain}", *hosts], True, True, self.valid_from,
                          self.days)
            return {"proxy.cert.pem": proxy.certificate, "proxy.key.pem": proxy.private_key,
                    "ca.cert.pem": bundle(ca, self.trusted)}

        return self._issued(material)
