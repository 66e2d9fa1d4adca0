"""Unit tests for kafkasalt.security.pki (EC P-256 keys keep this fast)."""

import datetime
import hashlib
import ipaddress
import re
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store

from kafkasalt.security import pki

UTC = datetime.timezone.utc
NOW = datetime.datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


def load(cert_pem):
    return x509.load_pem_x509_certificate(cert_pem.encode())


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


@pytest.fixture(scope="module")
def ca():
    return pki.create_ca("kafkasalt lab CA", valid_days=3650, now=NOW)


@pytest.fixture(scope="module")
def other_ca():
    return pki.create_ca("someone else's CA", now=NOW)


@pytest.fixture(scope="module")
def broker(ca):
    return pki.issue_cert(*ca, "kafka1", dns_names=["kafka1", "Kafka1.lab.example"],
                          ip_addresses=["127.0.0.11", "::1"], now=NOW)


# --- CA ----------------------------------------------------------------------------------

def test_ca_certificate_profile(ca):
    key_pem, cert_pem = ca
    cert = load(cert_pem)
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)  # self-signed and the signature checks out
    assert cert.not_valid_after_utc - NOW == datetime.timedelta(days=3650)
    assert cert.not_valid_before_utc == NOW - pki.CLOCK_SKEW


def test_ca_key_is_unencrypted_pkcs8_p256(ca):
    key_pem, cert_pem = ca
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert key_pem.count("PRIVATE KEY-----") == 2
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert pki.key_matches_cert(key_pem, cert_pem)


@pytest.mark.parametrize("kwargs,message", [
    ({"common_name": ""}, "common_name must be a non-empty string"),
    ({"common_name": None}, "common_name must be a non-empty string"),
    ({"common_name": "x" * 65}, "at most 64 characters"),
    ({"valid_days": 0}, "valid_days must be a positive integer"),
    ({"valid_days": "10"}, "valid_days must be a positive integer"),
    ({"now": datetime.datetime(2030, 1, 1)}, "now must be timezone-aware"),
])
def test_create_ca_errors(kwargs, message):
    arguments = {"common_name": "CA"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        pki.create_ca(**arguments)


# --- leaf certificates -----------------------------------------------------------------------

def test_leaf_profile_and_sans(ca, broker):
    cert = load(broker[1])
    ca_cert = load(ca[1])
    assert cert.subject.rfc4514_string() == "CN=kafka1"
    assert cert.issuer == ca_cert.subject
    assert ext(cert, x509.BasicConstraints).value.ca is False
    usage = ext(cert, x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert set(ext(cert, x509.ExtendedKeyUsage).value) == {ExtendedKeyUsageOID.SERVER_AUTH,
                                                           ExtendedKeyUsageOID.CLIENT_AUTH}
    sans = ext(cert, x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["kafka1", "kafka1.lab.example"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.11"),
                                                         ipaddress.ip_address("::1")]
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca_cert, x509.SubjectKeyIdentifier).value.digest
    assert ext(cert, x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert cert.not_valid_after_utc - NOW == datetime.timedelta(days=365)


def test_chain_verifies_with_cryptography_webpki_verifier(ca, broker):
    store = Store([load(ca[1])])
    leaf = load(broker[1])
    at_now = PolicyBuilder().store(store).time(NOW)
    for subject in (DNSName("kafka1"), DNSName("kafka1.lab.example"),
                    IPAddress(ipaddress.ip_address("127.0.0.11"))):
        chain = at_now.build_server_verifier(subject).verify(leaf, [])
        assert chain[-1] == load(ca[1])
    with pytest.raises(Exception, match="validation failed"):
        at_now.build_server_verifier(DNSName("kafka2")).verify(leaf, [])
    verified = at_now.build_client_verifier().verify(leaf, [])
    assert DNSName("kafka1") in verified.subjects


def test_chain_does_not_verify_against_another_ca(other_ca, broker):
    store = Store([load(other_ca[1])])
    with pytest.raises(Exception, match="validation failed"):
        PolicyBuilder().store(store).time(NOW).build_server_verifier(DNSName("kafka1")).verify(load(broker[1]), [])


def test_client_only_certificate(ca):
    key_pem, cert_pem = pki.issue_cert(*ca, "app-client", server=False, now=NOW)
    cert = load(cert_pem)
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        ext(cert, x509.SubjectAlternativeName)  # mTLS principal comes from the DN
    cert.verify_directly_issued_by(load(ca[1]))
    assert pki.key_matches_cert(key_pem, cert_pem)


def test_server_only_certificate(ca):
    _, cert_pem = pki.issue_cert(*ca, "kafka2", dns_names=["kafka2"], client=False, now=NOW)
    assert list(ext(load(cert_pem), x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_leaf_never_outlives_its_ca():
    short_ca = pki.create_ca("short CA", valid_days=10, now=NOW)
    _, cert_pem = pki.issue_cert(*short_ca, "kafka1", dns_names=["kafka1"], valid_days=365, now=NOW)
    assert load(cert_pem).not_valid_after_utc == load(short_ca[1]).not_valid_after_utc


def test_each_issue_makes_a_new_key_and_serial(ca):
    first = pki.issue_cert(*ca, "kafka1", dns_names=["kafka1"], now=NOW)
    second = pki.issue_cert(*ca, "kafka1", dns_names=["kafka1"], now=NOW)
    assert first[0] != second[0]
    assert load(first[1]).serial_number != load(second[1]).serial_number


def test_wildcard_dns_name_is_accepted(ca):
    _, cert_pem = pki.issue_cert(*ca, "brokers", dns_names=["*.kafka.lab"], now=NOW)
    assert pki.describe_cert(cert_pem)["dns_names"] == ["*.kafka.lab"]


@pytest.mark.parametrize("kwargs,message", [
    ({"dns_names": []}, "a server certificate needs at least one SAN"),
    ({"dns_names": "kafka1"}, "dns_names must be a list"),
    ({"dns_names": ["bad name"]}, "dns_names entry 'bad name' is not a valid DNS name"),
    ({"dns_names": ["-x.lab"]}, "not a valid DNS name"),
    ({"dns_names": ["*.com"]}, "not a valid DNS name"),
    ({"dns_names": [5]}, "dns_names entries must be strings"),
    ({"ip_addresses": ["999.1.1.1"]}, "ip_addresses entry '999.1.1.1' is not an IP address"),
    ({"ip_addresses": "127.0.0.1"}, "ip_addresses must be a list"),
    ({"client": False, "server": False}, "needs at least one purpose"),
    ({"valid_days": -5}, "valid_days must be a positive integer"),
    ({"common_name": " "}, "common_name must be a non-empty string"),
])
def test_issue_cert_argument_errors(ca, kwargs, message):
    arguments = {"common_name": "kafka1", "dns_names": ["kafka1"]}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        pki.issue_cert(*ca, now=NOW, **arguments)


def test_issue_cert_ca_errors(ca, other_ca, broker):
    with pytest.raises(ValueError, match="ca_key_pem does not belong to ca_cert_pem"):
        pki.issue_cert(other_ca[0], ca[1], "kafka1", dns_names=["kafka1"], now=NOW)
    with pytest.raises(ValueError, match="ca_cert_pem is not a CA certificate"):
        pki.issue_cert(broker[0], broker[1], "kafka1", dns_names=["kafka1"], now=NOW)
    with pytest.raises(ValueError, match="ca_cert_pem has expired"):
        pki.issue_cert(*ca, "kafka1", dns_names=["kafka1"], now=NOW + datetime.timedelta(days=4000))
    with pytest.raises(ValueError, match="ca_key_pem is not an unencrypted PEM private key") as excinfo:
        pki.issue_cert("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n", ca[1],
                       "kafka1", dns_names=["kafka1"], now=NOW)
    assert "c2VjcmV0" not in str(excinfo.value)
    with pytest.raises(ValueError, match="ca_cert_pem is not a PEM certificate"):
        pki.issue_cert(ca[0], "garbage", "kafka1", dns_names=["kafka1"], now=NOW)


# --- renewal decisions ------------------------------------------------------------------------

def test_needs_renewal_by_time(broker):
    cert_pem = broker[1]
    not_after = load(cert_pem).not_valid_after_utc
    renew, reason = pki.needs_renewal(cert_pem, now=NOW)
    assert (renew, reason) == (False, f"valid until {not_after.isoformat()} (365 days left)")
    renew, reason = pki.needs_renewal(cert_pem, now=not_after - datetime.timedelta(days=29))
    assert renew and reason.startswith("expires in 29 days")
    assert pki.needs_renewal(cert_pem, now=not_after - datetime.timedelta(days=31))[0] is False
    assert pki.needs_renewal(cert_pem, now=not_after - datetime.timedelta(days=31), before_days=60)[0] is True
    assert pki.needs_renewal(cert_pem, now=not_after) == (True, f"expired at {not_after.isoformat()}")
    renew, reason = pki.needs_renewal(cert_pem, now=NOW - datetime.timedelta(days=1))
    assert renew and reason.startswith("not valid before")


def test_needs_renewal_when_sans_or_issuer_differ(ca, other_ca, broker):
    cert_pem = broker[1]
    same = dict(dns_names=["KAFKA1.lab.example", "kafka1"], ip_addresses=["::1", "127.0.0.11"])
    assert pki.needs_renewal(cert_pem, now=NOW, ca_cert_pem=ca[1], **same)[0] is False
    renew, reason = pki.needs_renewal(cert_pem, now=NOW, dns_names=["kafka1"],
                                      ip_addresses=["127.0.0.11", "::1"])
    assert renew and reason == ("SANs differ: certificate has [kafka1, kafka1.lab.example, 127.0.0.11, ::1], "
                                "wanted [kafka1, 127.0.0.11, ::1]")
    renew, reason = pki.needs_renewal(cert_pem, now=NOW, ca_cert_pem=other_ca[1])
    assert renew and reason == "not signed by the CA 'CN=someone else's CA'"
    # Only IPs given: DNS names count as none wanted.
    assert pki.needs_renewal(cert_pem, now=NOW, ip_addresses=["127.0.0.11", "::1"])[0] is True


def test_needs_renewal_for_unreadable_pem():
    assert pki.needs_renewal("not a cert", now=NOW) == (True, "cert_pem is not a PEM certificate")
    assert pki.needs_renewal(b"", now=NOW)[0] is True


def test_needs_renewal_argument_errors(broker):
    with pytest.raises(ValueError, match="before_days must be a non-negative integer"):
        pki.needs_renewal(broker[1], now=NOW, before_days=-1)
    with pytest.raises(ValueError, match="now must be a datetime"):
        pki.needs_renewal(broker[1], now="2030-01-01")


def test_needs_renewal_defaults_to_the_real_clock(ca):
    _, cert_pem = pki.issue_cert(*pki.create_ca("today CA"), "kafka1", dns_names=["kafka1"])
    assert pki.needs_renewal(cert_pem)[0] is False


def test_cert_matches(ca, other_ca, broker):
    assert pki.cert_matches(broker[1]) == (True, "certificate matches")
    assert pki.cert_matches(broker[1], ["kafka1", "kafka1.lab.example"], ["127.0.0.11", "::1"], ca[1]) == \
        (True, "certificate matches")
    assert pki.cert_matches(broker[1], ca_cert_pem=other_ca[1])[0] is False
    assert pki.cert_matches(broker[1], ["kafka1"], None)[0] is False
    assert pki.cert_matches("", ["kafka1"]) == (False, "cert_pem is not a PEM certificate")
    with pytest.raises(ValueError, match="ca_cert_pem is not a PEM certificate"):
        pki.cert_matches(broker[1], ca_cert_pem="junk")
    with pytest.raises(ValueError, match="dns_names entry"):
        pki.cert_matches(broker[1], ["not valid!"])


def test_key_matches_cert(ca, broker):
    assert pki.key_matches_cert(broker[0], broker[1])
    assert not pki.key_matches_cert(ca[0], broker[1])


# --- files for Kafka --------------------------------------------------------------------------------

PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----\n[A-Za-z0-9+/=\n]+-----END \1-----\n")


def test_pem_keystore_has_exactly_one_key_then_the_chain(ca, broker):
    keystore = pki.pem_keystore(broker[0], broker[1], ca[1])
    blocks = PEM_BLOCK.findall(keystore)
    assert blocks == ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]
    assert "".join(m.group(0) for m in PEM_BLOCK.finditer(keystore)) == keystore
    certs = x509.load_pem_x509_certificates(keystore.encode())
    assert certs == [load(broker[1]), load(ca[1])]
    key = serialization.load_pem_private_key(keystore.encode(), password=None)
    assert key.public_key() == load(broker[1]).public_key()


def test_pem_keystore_converts_sec1_key_to_pkcs8(ca, broker):
    key = serialization.load_pem_private_key(broker[0].encode(), password=None)
    sec1 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()
    assert sec1.startswith("-----BEGIN EC PRIVATE KEY-----")
    keystore = pki.pem_keystore(sec1, broker[1], ca[1])
    assert PEM_BLOCK.findall(keystore)[0] == "PRIVATE KEY"


def test_pem_keystore_refuses_mismatches(ca, other_ca, broker):
    with pytest.raises(ValueError, match="key_pem does not belong to cert_pem"):
        pki.pem_keystore(ca[0], broker[1], ca[1])
    with pytest.raises(ValueError, match="cert_pem was not signed by ca_cert_pem"):
        pki.pem_keystore(broker[0], broker[1], other_ca[1])


def test_pem_truststore(ca, other_ca, broker):
    assert PEM_BLOCK.findall(pki.pem_truststore(ca[1])) == ["CERTIFICATE"]
    both = pki.pem_truststore(ca[1] + other_ca[1])
    assert x509.load_pem_x509_certificates(both.encode()) == [load(ca[1]), load(other_ca[1])]
    assert "PRIVATE" not in both
    with pytest.raises(ValueError, match=r"certificate #2 \('CN=kafka1'\) is not a CA"):
        pki.pem_truststore(ca[1] + broker[1])
    with pytest.raises(ValueError, match="ca_cert_pem holds no readable PEM certificate"):
        pki.pem_truststore("nothing")


def test_fingerprint_and_description(broker):
    der = load(broker[1]).public_bytes(serialization.Encoding.DER)
    assert pki.fingerprint(broker[1]) == hashlib.sha256(der).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", pki.fingerprint(broker[1]))
    description = pki.describe_cert(broker[1])
    assert description["subject"] == "CN=kafka1"
    assert description["issuer"] == "CN=kafkasalt lab CA"
    assert description["dns_names"] == ["kafka1", "kafka1.lab.example"]
    assert description["ip_addresses"] == ["127.0.0.11", "::1"]
    assert description["is_ca"] is False
    assert description["fingerprint_sha256"] == pki.fingerprint(broker[1])
    assert "PRIVATE" not in repr(description)


# --- cross-check with the openssl command line ------------------------------------------------------

def openssl(*args, cwd):
    assert shutil.which("openssl"), "the openssl binary is part of Debian's base system and is required here"
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)


def test_openssl_accepts_chain_and_keys(tmp_path):
    # Real clock here: openssl verify has no notion of our injected time.
    ca_key, ca_cert = pki.create_ca("openssl check CA")
    key, cert = pki.issue_cert(ca_key, ca_cert, "kafka1", dns_names=["kafka1"], ip_addresses=["127.0.0.11"])
    (tmp_path / "ca.pem").write_text(ca_cert)
    (tmp_path / "leaf.pem").write_text(cert)
    (tmp_path / "key.pem").write_text(key)
    (tmp_path / "keystore.pem").write_text(pki.pem_keystore(key, cert, ca_cert))

    for purpose in ("sslserver", "sslclient"):
        result = openssl("verify", "-x509_strict", "-purpose", purpose, "-CAfile", "ca.pem", "leaf.pem",
                         cwd=tmp_path)
        assert result.returncode == 0 and result.stdout.strip() == "leaf.pem: OK", result.stderr

    text = openssl("x509", "-noout", "-text", "-in", "leaf.pem", cwd=tmp_path).stdout
    assert "DNS:kafka1, IP Address:127.0.0.11" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    assert "CA:FALSE" in text and "prime256v1" in text and "ecdsa-with-SHA256" in text
    ca_text = openssl("x509", "-noout", "-text", "-in", "ca.pem", cwd=tmp_path).stdout
    assert "CA:TRUE, pathlen:0" in ca_text and "Certificate Sign, CRL Sign" in ca_text

    fingerprint = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", "leaf.pem", cwd=tmp_path).stdout
    assert fingerprint.strip().split("=", 1)[1].replace(":", "").lower() == pki.fingerprint(cert)

    # The keystore's key parses as PKCS#8 and matches the leaf's public key.
    key_pub = openssl("pkey", "-in", "keystore.pem", "-pubout", cwd=tmp_path)
    cert_pub = openssl("x509", "-in", "leaf.pem", "-noout", "-pubkey", cwd=tmp_path)
    assert key_pub.returncode == 0 and key_pub.stdout == cert_pub.stdout
