"""Certificates issued by the stack: deterministic, correctly chained, rotated by validFrom, kept in Secrets."""

from __future__ import annotations

import datetime as dt
import functools

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.tls import Authority, TlsPlan, issue, new_authority
from fate_pulumi.ca import main as tls_main
from fate_pulumi.mocks import Rendered
from tests.conftest import party, render


@functools.cache
def ca(name: str = "test CA") -> Authority:
    return new_authority(name)


def test_issue_is_deterministic_and_rotates():
    day = dt.date(2026, 11, 1)
    a = issue(ca(), "rollsite", ["rollsite", "10.0.0.1"], True, False, day)
    b = issue(ca(), "rollsite", ["rollsite", "10.0.0.1"], True, False, day)
    assert a == b  # same inputs: byte-identical, so `pulumi up` does not churn
    rotated = issue(ca(), "rollsite", ["rollsite", "10.0.0.1"], True, False, dt.date(2027, 11, 1))
    assert rotated.certificate != a.certificate and rotated.private_key != a.private_key
    other_ca = issue(ca("other"), "rollsite", ["rollsite"], True, False, day)
    assert other_ca.private_key != a.private_key


def test_certificate_chains_to_the_ca():
    issued = issue(ca(), "9999.fate.org", ["9999.fate.org", "pulsar", "192.0.2.1"], True, True, dt.date(2026, 1, 1), 30)
    cert = x509.load_pem_x509_certificate(issued.certificate.encode())
    ca_cert = ca().cert
    ca_key, algorithm = ca_cert.public_key(), cert.signature_hash_algorithm
    assert isinstance(ca_key, ec.EllipticCurvePublicKey) and algorithm is not None
    ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
    assert cert.issuer == ca_cert.subject
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["9999.fate.org", "pulsar"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["192.0.2.1"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=30)
    assert issued.private_key.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, as eggroll and Pulsar read it
    key, public = serialization.load_pem_private_key(issued.private_key.encode(), password=None), cert.public_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(public, ec.EllipticCurvePublicKey)
    assert key.public_key().public_numbers() == public.public_numbers()


def test_authority_refuses_a_foreign_key():
    with pytest.raises(ValueError, match="does not belong"):
        Authority(ca().certificate_pem, ca("other").key_pem)


def test_secret_contents_and_trust_bundle():
    peer = ca("peer CA").certificate_pem
    authority = ca()
    plan = TlsPlan(authority.certificate_pem, authority.key_pem, trusted=(peer,))
    certs = plan.eggroll_certs(["203.0.113.10"])
    assert isinstance(certs, dict)  # issued at once: the CA key is known
    assert set(certs) == {"ca.pem", "server.crt", "server.key", "client.crt", "client.key"}
    assert certs["ca.pem"].count("BEGIN CERTIFICATE") == 2
    pulsar, proxy = plan.pulsar_cert(9999, "fate.org", []), plan.traffic_server_cert("fate.org", [])
    assert isinstance(pulsar, dict) and isinstance(proxy, dict)
    assert set(pulsar) == {"broker.cert.pem", "broker.key-pk8.pem", "ca.cert.pem"}
    assert set(proxy) == {"proxy.cert.pem", "proxy.key.pem", "ca.cert.pem"}


def _tls_party(**tls):
    return party(rollsite={"tls": {"enabled": True}}, publicHost="203.0.113.10",
                 tls={"generate": True, "caCertificate": ca().certificate_pem, **tls}, tlsCaKey=ca().key_pem)


def test_party_issues_rollsite_certificates_into_its_secret():
    r = render(_tls_party())
    secret = next(o for o in r.raw_objects if o["kind"] == "Secret" and o["metadata"]["name"] == "eggroll-certs")
    server = x509.load_pem_x509_certificate(secret["stringData"]["server.crt"].encode())
    assert "203.0.113.10" in [
        str(i)
        for i in server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.IPAddress
        )
    ]
    for obj in r.raw_objects:
        if obj["kind"] == "ConfigMap":
            assert "PRIVATE KEY" not in str(obj) and "BEGIN CERTIFICATE" not in str(obj)
    assert r.outputs["tlsCaCertificate"].strip() == ca().certificate_pem.strip()
    def checksum(x):
        return x.get("Deployment", "rollsite")["spec"]["template"]["metadata"]["annotations"][
            "fate.federatedai.io/config-checksum"]
    assert checksum(render(_tls_party())) == checksum(r)  # stable: no churn
    assert checksum(render(_tls_party(validFrom="2027-01-01"))) != checksum(r)  # rotation rolls rollsite


def test_pulsar_party_and_exchange_issue_their_certificates():
    r = render(party(backend="spark_local_pulsar", pulsar={"exchange": {"host": "10.0.0.1", "port": 30007}},
                     tls={"generate": True, "caCertificate": ca().certificate_pem}, tlsCaKey=ca().key_pem))
    secret = next(o for o in r.raw_objects if o["kind"] == "Secret" and o["metadata"]["name"] == "pulsar-cert")
    broker = x509.load_pem_x509_certificate(secret["stringData"]["broker.cert.pem"].encode())
    assert broker.subject.rfc4514_string() == "CN=9999.fate.org"
    ex = render({"kind": "exchange", "partyId": 1, "backend": "spark_pulsar", "development": True,
                 "tls": {"generate": True, "caCertificate": ca().certificate_pem}, "tlsCaKey": ca().key_pem})
    assert ("Secret", "traffic-server-cert") in ex.kinds_names()


@pytest.mark.parametrize(
    "values,key",
    [
        (party(tls={"generate": True}), "fate:tls.caCertificate"),
        (party(tls={"generate": True, "caCertificate": "not a pem"}), "fate:tls.caCertificate"),
        (
            {**party(tls={"generate": True, "caCertificate": ca().certificate_pem}), "tlsCaKey": ca("other").key_pem},
            "fate:tlsCaKey",
        ),
        (
            {"partyId": 9999, "development": True, "tls": {"generate": True, "caCertificate": ca().certificate_pem}},
            "fate:tlsCaKey",
        ),
    ],
)
def test_bad_tls_config_is_refused(values, key):
    registered = Rendered()
    with pytest.raises(pulumi.RunError, match=key.replace(".", r"\.")):
        render(values, into=registered)
    assert registered.resources == []


def _rsa_ca() -> tuple[str, str]:
    """A self-signed RSA CA: a valid CA, but not one the stack can sign with deterministically."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key


def test_an_rsa_ca_is_refused_with_its_key_named():
    cert, key = _rsa_ca()
    registered = Rendered()
    with pytest.raises(pulumi.RunError) as err:
        render({**party(tls={"generate": True, "caCertificate": cert}), "tlsCaKey": key}, into=registered)
    assert "fate:tlsCaKey: must be an EC key" in str(err.value)
    assert registered.resources == []


def test_ca_helper(tmp_path, capsys):
    assert tls_main(["--cn", "FATE party 9999 CA", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    authority = Authority((tmp_path / "ca.pem").read_text(), (tmp_path / "ca.key").read_text())
    assert authority.cert.subject.rfc4514_string() == "CN=FATE party 9999 CA"


def test_renewing_certificates_never_come_within_renew_before_days_of_expiry():
    from components.tls import RENEWAL_EPOCH, renewing_start

    for offset in range(0, 3650, 7):
        today = RENEWAL_EPOCH + dt.timedelta(days=offset)
        start = renewing_start(today, 365, 30)
        assert start <= today and (start + dt.timedelta(days=365) - today).days > 30, today
    # stable inside a window (no churn on pulumi up), moving at its end
    assert (
        renewing_start(dt.date(2026, 3, 1), 365, 30) == renewing_start(dt.date(2026, 11, 30), 365, 30) == RENEWAL_EPOCH
    )
    assert renewing_start(dt.date(2026, 12, 2), 365, 30) == RENEWAL_EPOCH + dt.timedelta(days=335)


def test_default_certificates_renew_and_a_fixed_validity_near_its_end_is_warned_about():
    from stacks.common import expiry_warnings, tls_plan
    from stacks.config import load_config

    base = {"partyId": 9999, "development": True, "tls": {"generate": True, "caCertificate": ca().certificate_pem},
            "tlsCaKey": ca().key_pem}
    cfg = load_config(base, ["tlsCaKey"])
    for today in (dt.date(2026, 12, 1), dt.date(2031, 6, 15)):  # whenever it runs, today's certificates are valid
        plan = tls_plan(cfg, today)
        assert plan is not None and plan.valid_from <= today and (plan.expires - today).days > 30
        assert expiry_warnings(cfg, today) == []
    fixed = load_config({**base, "tls": {"generate": True, "caCertificate": ca().certificate_pem,
                                         "validFrom": "2026-01-01"}}, ["tlsCaKey"])
    assert expiry_warnings(fixed, dt.date(2026, 6, 1)) == []
    warning, = expiry_warnings(fixed, dt.date(2026, 12, 20))
    assert warning.startswith("the certificates this stack issues expire on 2027-01-01 (12 days)")
    # a CA that runs out is said too (the test CA lives 10 years)
    assert any(
        "fate:tls.caCertificate expires" in w for w in expiry_warnings(cfg, dt.date.today() + dt.timedelta(days=3640))
    )
