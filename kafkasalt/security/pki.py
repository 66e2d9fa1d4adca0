"""A small private CA for the brokers' TLS listeners (``cryptography`` based).

Choices, and why:

- Keys are EC P-256. Kafka's PEM key store (KIP-651, ``ssl.keystore.type=PEM``)
  loads PKCS#8 keys with the RSA, DSA or EC key factory, and Java 17 negotiates
  ECDSA certificates in TLS 1.2 and 1.3. P-256 keys are generated in about a
  millisecond, which keeps tests and key rotation fast.
- Private keys are written as unencrypted PKCS#8 (``-----BEGIN PRIVATE KEY-----``).
  Kafka's PEM parser accepts only PKCS#8 (``PRIVATE KEY`` or ``ENCRYPTED
  PRIVATE KEY``); a SEC1 ``EC PRIVATE KEY`` or PKCS#1 ``RSA PRIVATE KEY`` fails
  to load. For a PEM key-store *file* ``ssl.key.password`` is optional and
  ``ssl.keystore.password`` must not be set; file permissions protect the key.
- The key-store file holds exactly one private key followed by the chain
  (leaf first, then the CA), which is what Kafka's PemStore expects ("Expected
  one private key").
- CA: BasicConstraints ca=True, path_len=0 (it signs leaves only); KeyUsage
  keyCertSign + cRLSign; SubjectKeyIdentifier. Leaves: BasicConstraints ca=False,
  KeyUsage digitalSignature, ExtendedKeyUsage serverAuth/clientAuth,
  SubjectAlternativeName, SubjectKeyIdentifier and AuthorityKeyIdentifier.
- Leaves never outlive their CA (expiry is clamped) and start five minutes in
  the past to tolerate clock skew between hosts.

Nothing in this module logs or returns a private key except the functions
whose job is to produce one; :func:`fingerprint` and :func:`describe_cert`
are meant for change reports.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kafkasalt.common.validation import dns_name_problem

__all__ = [
    "CLOCK_SKEW",
    "MAX_COMMON_NAME_LENGTH",
    "cert_matches",
    "create_ca",
    "describe_cert",
    "fingerprint",
    "issue_cert",
    "key_matches_cert",
    "needs_renewal",
    "pem_keystore",
    "pem_truststore",
    "bundle_fingerprints",
    "keystore_leaf",
    "not_after",
]

CLOCK_SKEW = datetime.timedelta(minutes=5)
# X.509 upper bound for a CommonName (RFC 5280 ub-common-name).
MAX_COMMON_NAME_LENGTH = 64


# --- small helpers -------------------------------------------------------------------------

def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _as_utc(moment, argument="now"):
    if moment is None:
        return _utcnow()
    if not isinstance(moment, datetime.datetime):
        raise ValueError(f"{argument} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"{argument} must be timezone-aware (e.g. datetime.timezone.utc)")
    return moment.astimezone(datetime.timezone.utc)


def _check_common_name(common_name):
    if not isinstance(common_name, str) or not common_name.strip():
        raise ValueError("common_name must be a non-empty string")
    if len(common_name) > MAX_COMMON_NAME_LENGTH:
        raise ValueError(f"common_name must be at most {MAX_COMMON_NAME_LENGTH} characters")
    return common_name


def _check_days(valid_days, argument="valid_days"):
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) or valid_days < 1:
        raise ValueError(f"{argument} must be a positive integer, got {valid_days!r}")
    return valid_days


def _normalize_dns_names(dns_names, argument="dns_names"):
    if isinstance(dns_names, str) or dns_names is None:
        raise ValueError(f"{argument} must be a list of host names, got {type(dns_names).__name__}")
    names = []
    for name in dns_names:
        if not isinstance(name, str):
            raise ValueError(f"{argument} entries must be strings, got {type(name).__name__}")
        lowered = name.strip().lower().rstrip(".")
        if dns_name_problem(name) is not None:  # the rule the pillar validator applies too
            raise ValueError(f"{argument} entry {name!r} is not a valid DNS name")
        if lowered not in names:
            names.append(lowered)
    return names


def _normalize_ips(ip_addresses, argument="ip_addresses"):
    if isinstance(ip_addresses, str) or ip_addresses is None:
        raise ValueError(f"{argument} must be a list of IP addresses, got {type(ip_addresses).__name__}")
    addresses = []
    for value in ip_addresses:
        try:
            address = ipaddress.ip_address(value.strip() if isinstance(value, str) else value)
        except ValueError:
            raise ValueError(f"{argument} entry {value!r} is not an IP address") from None
        if address not in addresses:
            addresses.append(address)
    return addresses


def _load_cert(cert_pem, argument="cert_pem"):
    data = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
    if not isinstance(data, bytes):
        raise ValueError(f"{argument} must be PEM text, got {type(cert_pem).__name__}")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ValueError(f"{argument} is not a PEM certificate") from None


def _load_certs(certs_pem, argument):
    data = certs_pem.encode("ascii") if isinstance(certs_pem, str) else certs_pem
    if not isinstance(data, bytes):
        raise ValueError(f"{argument} must be PEM text, got {type(certs_pem).__name__}")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{argument} holds no readable PEM certificate") from None
    return certs


def _load_key(key_pem, argument):
    data = key_pem.encode("ascii") if isinstance(key_pem, str) else key_pem
    if not isinstance(data, bytes):
        raise ValueError(f"{argument} must be PEM text, got {type(key_pem).__name__}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Never include the key text in the message.
        raise ValueError(f"{argument} is not an unencrypted PEM private key") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError(f"{argument} must be an EC or RSA key")
    return key


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _public_bytes(public_key):
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert, ca_cert):
    """True when ``ca_cert`` issued ``cert`` (issuer name and signature)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _sans(cert):
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns_names = [name.lower() for name in extension.get_values_for_type(x509.DNSName)]
    ips = list(extension.get_values_for_type(x509.IPAddress))
    return dns_names, ips


# --- CA and leaf issuance ---------------------------------------------------------------------

def create_ca(common_name, valid_days=3650, now=None):
    """Create a self-signed CA; returns ``(key_pem, cert_pem)`` as text.

    ``now`` (timezone-aware) exists for tests; it defaults to the current time.
    """
    _check_common_name(common_name)
    _check_days(valid_days)
    start = _as_utc(now) - CLOCK_SKEW
    key = _new_key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CLOCK_SKEW + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                          crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key), _cert_pem(cert)


def issue_cert(ca_key_pem, ca_cert_pem, common_name, dns_names=(), ip_addresses=(), client=True,
               server=True, valid_days=365, now=None):
    """Issue a leaf certificate signed by the CA; returns ``(key_pem, cert_pem)``.

    A fresh key is generated each time. ``server=True`` requires at least one
    SAN because Kafka clients verify the broker's host name
    (``ssl.endpoint.identification.algorithm=https``) against SANs only.
    """
    _check_common_name(common_name)
    _check_days(valid_days)
    dns = _normalize_dns_names(dns_names)
    ips = _normalize_ips(ip_addresses)
    if not client and not server:
        raise ValueError("client and server are both False; a certificate needs at least one purpose")
    if server and not (dns or ips):
        raise ValueError("dns_names/ip_addresses: a server certificate needs at least one SAN")
    ca_key = _load_key(ca_key_pem, "ca_key_pem")
    ca_cert = _load_cert(ca_cert_pem, "ca_cert_pem")
    if not _is_ca(ca_cert):
        raise ValueError("ca_cert_pem is not a CA certificate (BasicConstraints ca=False)")
    if _public_bytes(ca_key.public_key()) != _public_bytes(ca_cert.public_key()):
        raise ValueError("ca_key_pem does not belong to ca_cert_pem")

    start = _as_utc(now) - CLOCK_SKEW
    end = min(start + CLOCK_SKEW + datetime.timedelta(days=valid_days), ca_cert.not_valid_after_utc)
    if end <= start:
        raise ValueError("ca_cert_pem has expired; create a new CA first")
    purposes = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + \
               ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                          crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca_cert), critical=False)
    )
    if dns or ips:
        sans = [x509.DNSName(name) for name in dns] + [x509.IPAddress(ip) for ip in ips]
        # RFC 5280: SAN is critical only when the subject is empty; ours has a CN.
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return _key_pem(key), _cert_pem(cert)


def _authority_key_identifier(ca_cert):
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())


# --- checks used by states ----------------------------------------------------------------------

def cert_matches(cert_pem, dns_names=None, ip_addresses=None, ca_cert_pem=None):
    """Does the certificate carry exactly the wanted SANs and come from the CA?

    Returns ``(bool, reason)``. SANs are compared as sets (DNS names without
    case). When both ``dns_names`` and ``ip_addresses`` are ``None`` the SANs
    are not checked; when only one is given the other counts as empty.
    ``ca_cert_pem=None`` skips the issuer check. An unreadable ``cert_pem``
    simply does not match (it must be reissued); bad wanted values or an
    unreadable ``ca_cert_pem`` raise ``ValueError``.
    """
    try:
        cert = _load_cert(cert_pem)
    except ValueError as exc:
        return False, str(exc)
    if dns_names is not None or ip_addresses is not None:
        wanted_dns = set(_normalize_dns_names(dns_names if dns_names is not None else ()))
        wanted_ips = set(_normalize_ips(ip_addresses if ip_addresses is not None else ()))
        have_dns, have_ips = _sans(cert)
        if set(have_dns) != wanted_dns or set(have_ips) != wanted_ips:
            have = sorted(have_dns) + sorted(str(ip) for ip in have_ips)
            want = sorted(wanted_dns) + sorted(str(ip) for ip in wanted_ips)
            return False, f"SANs differ: certificate has [{', '.join(have)}], wanted [{', '.join(want)}]"
    if ca_cert_pem is not None:
        ca_cert = _load_cert(ca_cert_pem, "ca_cert_pem")
        if not _signed_by(cert, ca_cert):
            return False, f"not signed by the CA '{ca_cert.subject.rfc4514_string()}'"
    return True, "certificate matches"


def needs_renewal(cert_pem, now=None, before_days=30, dns_names=None, ip_addresses=None, ca_cert_pem=None):
    """Should this certificate be (re)issued? Returns ``(bool, reason)``.

    Renew when the PEM cannot be read, the certificate is not yet valid,
    expires within ``before_days`` (or already did), or when
    :func:`cert_matches` finds other SANs than ``dns_names``/``ip_addresses``
    or another issuer than ``ca_cert_pem`` (each check only when given).
    """
    moment = _as_utc(now)
    if isinstance(before_days, bool) or not isinstance(before_days, int) or before_days < 0:
        raise ValueError(f"before_days must be a non-negative integer, got {before_days!r}")
    try:
        cert = _load_cert(cert_pem)
    except ValueError as exc:
        return True, str(exc)
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if moment < not_before:
        return True, f"not valid before {not_before.isoformat()}"
    if moment >= not_after:
        return True, f"expired at {not_after.isoformat()}"
    remaining = not_after - moment
    if remaining <= datetime.timedelta(days=before_days):
        return True, (f"expires in {remaining.days} days (at {not_after.isoformat()}), "
                      f"renewal window {before_days} days")
    matches, reason = cert_matches(cert_pem, dns_names, ip_addresses, ca_cert_pem)
    if not matches:
        return True, reason
    return False, f"valid until {not_after.isoformat()} ({remaining.days} days left)"


def key_matches_cert(key_pem, cert_pem):
    """True when the private key belongs to the certificate's public key."""
    key = _load_key(key_pem, "key_pem")
    cert = _load_cert(cert_pem)
    return _public_bytes(key.public_key()) == _public_bytes(cert.public_key())


# --- files Kafka reads --------------------------------------------------------------------------

def pem_keystore(key_pem, cert_pem, ca_cert_pem):
    """Content of a ``ssl.keystore.type=PEM`` file: PKCS#8 key, leaf cert, CA cert.

    The key is re-encoded as unencrypted PKCS#8 whatever PEM flavour came in.
    Raises ``ValueError`` if the key does not fit the certificate or the CA did
    not sign it (Kafka would fail later with a far less helpful message).
    """
    key = _load_key(key_pem, "key_pem")
    cert = _load_cert(cert_pem)
    ca_cert = _load_cert(ca_cert_pem, "ca_cert_pem")
    if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
        raise ValueError("key_pem does not belong to cert_pem")
    if not _signed_by(cert, ca_cert):
        raise ValueError("cert_pem was not signed by ca_cert_pem")
    return _key_pem(key) + _cert_pem(cert) + _cert_pem(ca_cert)


def pem_truststore(ca_cert_pem):
    """Content of a ``ssl.truststore.type=PEM`` file.

    ``ca_cert_pem`` may hold several CA certificates (useful while rotating
    the CA); each must be a CA certificate. Output is normalized PEM.
    """
    certs = _load_certs(ca_cert_pem, "ca_cert_pem")
    for index, cert in enumerate(certs):
        if not _is_ca(cert):
            raise ValueError(f"ca_cert_pem certificate #{index + 1} "
                             f"('{cert.subject.rfc4514_string()}') is not a CA certificate")
    return "".join(_cert_pem(cert) for cert in certs)


def fingerprint(cert_pem):
    """SHA-256 fingerprint of the certificate (DER), lowercase hex without colons."""
    cert = _load_cert(cert_pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def describe_cert(cert_pem):
    """Public facts about a certificate for change reports (no key material)."""
    cert = _load_cert(cert_pem)
    dns_names, ips = _sans(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "dns_names": sorted(dns_names),
        "ip_addresses": sorted(str(ip) for ip in ips),
        "is_ca": _is_ca(cert),
        "fingerprint_sha256": fingerprint(cert_pem),
    }


def _readable_certs(pem_text):
    """The certificates of a PEM text; ``[]`` for a missing or unreadable one (it holds nothing
    we trust or serve)."""
    if not pem_text:
        return []
    try:
        return _load_certs(pem_text, "pem_text")
    except ValueError:
        return []


def _der_fingerprint(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def bundle_fingerprints(pem_text):
    """SHA-256 fingerprints of every certificate in a PEM text, in order."""
    return [_der_fingerprint(cert) for cert in _readable_certs(pem_text)]


def keystore_leaf(keystore_pem, ca_certs_pem=()):
    """What a PEM key store presents: ``{"fingerprint", "issued_by"}`` of its first certificate,
    ``issued_by`` the fingerprint of whichever of ``ca_certs_pem`` signed it (None when none
    did). None for a missing or unreadable key store."""
    certs = _readable_certs(keystore_pem)
    if not certs:
        return None
    leaf = certs[0]
    issuer = None
    for ca_pem in ca_certs_pem:
        if ca_pem and _signed_by(leaf, _load_cert(ca_pem, "ca_cert_pem")):
            issuer = fingerprint(ca_pem)
            break
    return {"fingerprint": _der_fingerprint(leaf), "issued_by": issuer}


def not_after(pem_text):
    """``[(fingerprint, notAfter as Unix seconds)]`` of every certificate in a PEM text."""
    return [(_der_fingerprint(c), int(c.not_valid_after_utc.timestamp())) for c in _readable_certs(pem_text)]
