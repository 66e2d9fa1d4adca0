"""Talking to a running ZooKeeper: four-letter words and SASL-authenticated kazoo sessions."""

import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass

log = logging.getLogger(__name__)

# kazoo logs every connection drop at WARNING; during rolls that is expected noise.
logging.getLogger("kazoo.client").setLevel(logging.ERROR)


class ZkUnavailable(RuntimeError):
    """The member or ensemble did not answer."""


@dataclass(frozen=True)
class TlsFiles:
    """What a TLS client of ZooKeeper needs: the CA to check the member's certificate against
    (its address is checked too) and a PEM file with this client's key and certificate."""

    ca: str
    keystore: str

    def context(self):
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca)
        context.load_cert_chain(self.keystore)
        return context


def four_letter_word(address, port, word, timeout=2.0, tls=None):
    """Send a 4lw command (must be in ``4lw.commands.whitelist``) and return the reply text.
    With ``tls`` (:class:`TlsFiles`) it goes to a TLS client port."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            sock = tls.context().wrap_socket(raw, server_hostname=address) if tls else raw
            sock.sendall(word.encode())
            if not tls:
                # A TLS socket cannot half-close; the member closes after replying either way.
                sock.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except OSError as exc:  # ssl.SSLError is an OSError
        raise ZkUnavailable(f"{address}:{port} did not answer '{word}': {exc}") from exc
    text = b"".join(chunks).decode(errors="replace")
    if "is not executed because it is not in the whitelist" in text:
        raise ZkUnavailable(f"{address}:{port} refuses '{word}': not in 4lw.commands.whitelist")
    return text


@contextlib.contextmanager
def session(connect_string, username=None, password=None, timeout=10.0, tls=None):
    """A kazoo session, SASL DIGEST-MD5 authenticated when ``username`` is given, over TLS
    (member certificate and address checked, client certificate presented) with ``tls``.

    The password only goes to kazoo's SASL layer; it is never logged here.
    """
    from kazoo.client import KazooClient  # imported lazily: only minions that talk to ZK need kazoo

    kwargs = {"hosts": connect_string, "timeout": timeout, "connection_retry": {"max_tries": 3, "delay": 0.5}}
    if username:
        kwargs["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": username, "password": password}
    if tls:
        kwargs.update(use_ssl=True, verify_certs=True, check_hostname=True, ca=tls.ca,
                      certfile=tls.keystore, keyfile=tls.keystore)
    client = KazooClient(**kwargs)
    who = username or "anonymous"
    try:
        client.start(timeout=timeout)
    except Exception as exc:  # kazoo raises its own timeout and auth errors
        client.close()
        raise ZkUnavailable(f"cannot open a ZooKeeper session to {connect_string} as {who}: {exc}") from exc
    try:
        # kazoo reports CONNECTED before the SASL exchange finishes; a refused login only shows
        # on the first request, so probe once before handing the session out.
        client.exists_async("/").get(timeout=timeout)
    except Exception as exc:
        client.stop()
        client.close()
        raise ZkUnavailable(f"cannot open a ZooKeeper session to {connect_string} as {who}: "
                            f"authentication refused or ensemble unavailable ({type(exc).__name__})") from None
    try:
        yield client
    finally:
        client.stop()
        client.close()


_PERMISSION_BITS = {"c": 4, "d": 8, "r": 1, "w": 2, "a": 16}  # kazoo.security.Permissions


def parse_acl(text):
    """``sasl:kafka:cdrwa`` -> kazoo ACL. Raises ValueError naming the bad entry."""
    from kazoo.security import ACL, Id

    parts = text.rsplit(":", 2) if isinstance(text, str) else []
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2] or set(parts[2]) - set(_PERMISSION_BITS):
        raise ValueError(f"ACL entry {text!r} is not scheme:id:perms with perms from 'cdrwa'")
    scheme, ident, perms = parts
    return ACL(sum(_PERMISSION_BITS[letter] for letter in set(perms)), Id(scheme, ident))


def acl_to_text(acl):
    """``sasl:kafka:cdrwa`` — the notation zkCli prints."""
    letters = "".join(letter for letter, bit in _PERMISSION_BITS.items() if acl.perms & bit)
    return f"{acl.id.scheme}:{acl.id.id}:{letters}"
