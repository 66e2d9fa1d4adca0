"""Unit tests for kafkasalt.security.scram.

Reference values come from two independent sources:
- RFC 7677 section 3 (SCRAM-SHA-256 exchange for user "user", password "pencil")
  and RFC 5802 section 5 (the same exchange with SHA-1);
- Kafka 3.9.2's own classes (ScramFormatter, ScramCredentialUtils, ZkData,
  Sanitizer), run once with a small Java probe against the kafka-clients /
  kafka_2.13 3.9.2 jars; their printed output is pasted below. The RFC's client
  proof and server signature were reproduced by Kafka's ScramFormatter in the
  same probe, so the intermediate keys below are tied to the RFC example.
"""

import base64
import hashlib
import hmac
import json
import string

import pytest

from kafkasalt.security import scram
from kafkasalt.security.scram import ScramCredential


def b64d(text):
    return base64.b64decode(text)


# --- a minimal SCRAM client/server exchange (RFC 5802 section 3) --------------

def client_exchange(hash_name, password, salt, iterations, client_first_bare, server_first,
                    client_final_without_proof):
    """What a client computes: its proof and the server signature it expects."""
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    auth_message = ",".join([client_first_bare, server_first, client_final_without_proof]).encode()
    client_signature = hmac.new(stored_key, auth_message, hash_name).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, client_signature))
    expected_server_signature = hmac.new(server_key, auth_message, hash_name).digest()
    return proof, expected_server_signature, auth_message


def server_check(hash_name, stored_key, server_key, auth_message, proof):
    """What a broker does with only the stored credential: verify proof, sign."""
    client_signature = hmac.new(stored_key, auth_message, hash_name).digest()
    recovered_client_key = bytes(a ^ b for a, b in zip(proof, client_signature))
    accepted = hmac.compare_digest(hashlib.new(hash_name, recovered_client_key).digest(), stored_key)
    server_signature = hmac.new(server_key, auth_message, hash_name).digest()
    return accepted, server_signature


def run_exchange(cred, password, username="user"):
    hash_name = scram.MECHANISMS[cred.mechanism]
    client_nonce = "fyko+d2lbbFgONRv9qkxdawL"
    server_nonce = client_nonce + "3rfcNHYJY1ZVvWVs7j"
    client_first_bare = f"n={username},r={client_nonce}"
    server_first = (f"r={server_nonce},s={base64.b64encode(cred.salt).decode()},"
                    f"i={cred.iterations}")
    client_final_without_proof = f"c=biws,r={server_nonce}"
    proof, expected_signature, auth_message = client_exchange(
        hash_name, password, cred.salt, cred.iterations,
        client_first_bare, server_first, client_final_without_proof)
    accepted, server_signature = server_check(
        hash_name, cred.stored_key, cred.server_key, auth_message, proof)
    return accepted, hmac.compare_digest(server_signature, expected_signature)


# --- RFC vectors ---------------------------------------------------------------

RFC7677_SALT = b64d("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC7677_CLIENT_FIRST_BARE = "n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_FIRST = ("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                        "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
RFC7677_CLIENT_FINAL_WITHOUT_PROOF = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC7677_PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
RFC7677_SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
# Intermediate values printed by Kafka 3.9.2's ScramFormatter for the same input.
RFC7677_SALTED_PASSWORD = "xKSVEDI6tPlSysH6mUQZOeeOp01r6B3fcJbodRPcYV0="
RFC7677_CLIENT_KEY = "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos="
RFC7677_STORED_KEY = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
RFC7677_SERVER_KEY = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="


def test_rfc7677_sha256_credential_keys():
    cred = scram.make_credential("pencil", "SCRAM-SHA-256", 4096, salt=RFC7677_SALT)
    assert scram.salted_password("pencil", RFC7677_SALT, 4096, "SCRAM-SHA-256") == b64d(RFC7677_SALTED_PASSWORD)
    client_key = hmac.new(b64d(RFC7677_SALTED_PASSWORD), b"Client Key", "sha256").digest()
    assert client_key == b64d(RFC7677_CLIENT_KEY)
    assert cred.stored_key == b64d(RFC7677_STORED_KEY)
    assert cred.server_key == b64d(RFC7677_SERVER_KEY)
    assert cred.salt == RFC7677_SALT and cred.iterations == 4096


def test_rfc7677_client_proof_and_server_signature_from_stored_keys():
    cred = scram.make_credential("pencil", "SCRAM-SHA-256", 4096, salt=RFC7677_SALT)
    proof, expected_signature, auth_message = client_exchange(
        "sha256", "pencil", RFC7677_SALT, 4096, RFC7677_CLIENT_FIRST_BARE,
        RFC7677_SERVER_FIRST, RFC7677_CLIENT_FINAL_WITHOUT_PROOF)
    assert base64.b64encode(proof).decode() == RFC7677_PROOF
    # The broker side only has stored_key/server_key (what we write to ZooKeeper).
    accepted, server_signature = server_check("sha256", cred.stored_key, cred.server_key, auth_message, proof)
    assert accepted
    assert base64.b64encode(server_signature).decode() == RFC7677_SERVER_SIGNATURE
    assert server_signature == expected_signature


def test_rfc7677_wrong_password_proof_is_rejected():
    cred = scram.make_credential("pencil", "SCRAM-SHA-256", 4096, salt=RFC7677_SALT)
    proof, _, auth_message = client_exchange(
        "sha256", "pencil2", RFC7677_SALT, 4096, RFC7677_CLIENT_FIRST_BARE,
        RFC7677_SERVER_FIRST, RFC7677_CLIENT_FINAL_WITHOUT_PROOF)
    accepted, _ = server_check("sha256", cred.stored_key, cred.server_key, auth_message, proof)
    assert not accepted


def test_rfc5802_sha1_example_proves_the_generic_math():
    # RFC 5802 section 5; SHA-1 is not a Kafka mechanism, so this drives the
    # module's internal primitives directly.
    salt = b64d("QSXCR+Q6sek8bf92")
    salted = scram._salted_password("sha1", b"pencil", salt, 4096)
    stored_key, server_key = scram._keys_from_salted_password("sha1", salted)
    server_first = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    proof, expected_signature, auth_message = client_exchange(
        "sha1", "pencil", salt, 4096, "n=user,r=fyko+d2lbbFgONRv9qkxdawL", server_first,
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j")
    assert base64.b64encode(proof).decode() == "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    accepted, signature = server_check("sha1", stored_key, server_key, auth_message, proof)
    assert accepted
    assert base64.b64encode(signature).decode() == "rmF9pqV8S7suAoZWja4dJRkFsKQ="
    assert signature == expected_signature


# --- Kafka's own output for a fixed salt -----------------------------------------

KAFKA_FIXED_SALT = b"kafkasalt-fixed-salt"
KAFKA_FIXED_PASSWORD = "s3cr\u00e9t-pw"  # non-ASCII: Kafka uses plain UTF-8, no SASLprep
KAFKA_ZK_STRINGS = {
    "SCRAM-SHA-256": (
        "salt=a2Fma2FzYWx0LWZpeGVkLXNhbHQ=,"
        "stored_key=qNmMM9HcpldpFT5p4EHrPbXw1Sru8cQ/NWCjc/wcs40=,"
        "server_key=+TvXYUXrBiYltdCNSurSe4TTLN/YTeyPS2Km7cCIJNU=,iterations=4096"
    ),
    "SCRAM-SHA-512": (
        "salt=a2Fma2FzYWx0LWZpeGVkLXNhbHQ=,"
        "stored_key=uphLtbPHY65Xlba9QUQKD/tLPn5POpvjCYbaNW//jOMlW9buZ76sZOb6gB/m8HVX/Wx8vi1XdV+IMLYEG9ch3A==,"
        "server_key=WFjxoXp0BE/A/Yo3ZOaNRK5dVUtf2LIpQdKUMZgRmj5dxHJM1q0OjM0qfK0NQjE8UbgCq/QvRzWZWHZkbphpuA==,"
        "iterations=4096"
    ),
}


@pytest.mark.parametrize("mechanism", sorted(KAFKA_ZK_STRINGS))
def test_zk_string_matches_kafka_byte_for_byte(mechanism):
    cred = scram.make_credential(KAFKA_FIXED_PASSWORD, mechanism, 4096, salt=KAFKA_FIXED_SALT)
    assert scram.to_zk_string(cred) == KAFKA_ZK_STRINGS[mechanism]


@pytest.mark.parametrize("mechanism", sorted(KAFKA_ZK_STRINGS))
def test_kafka_written_credential_verifies(mechanism):
    cred = scram.from_zk_string(KAFKA_ZK_STRINGS[mechanism], mechanism)
    assert scram.verify_password(cred, KAFKA_FIXED_PASSWORD)
    assert not scram.verify_password(cred, "s3cret-pw")  # ASCII look-alike differs


# --- round trips and verification ------------------------------------------------

@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("iterations", [4096, 8192])
def test_round_trip_and_verify(mechanism, iterations):
    cred = scram.make_credential("correct horse", mechanism, iterations)
    parsed = scram.from_zk_string(scram.to_zk_string(cred), mechanism)
    assert parsed == cred
    assert scram.verify_password(parsed, "correct horse")
    assert not scram.verify_password(parsed, "correct horse ")
    assert not scram.verify_password(parsed, "")
    assert not scram.verify_password(parsed, None)
    assert run_exchange(parsed, "correct horse") == (True, True)
    assert run_exchange(parsed, "wrong")[0] is False


def test_default_salt_is_shaped_like_kafkas():
    salts = {scram.make_credential("pw").salt for _ in range(20)}
    assert len(salts) == 20
    for salt in salts:
        text = salt.decode("ascii")
        assert set(text) <= set(string.digits + string.ascii_lowercase)
        # 130 random bits in base 36 -> at most 26 digits (about 25 usually).
        assert 1 <= len(text) <= 26
        assert int(text, 36) < 2 ** 130


def test_defaults_are_sha512_and_4096():
    cred = scram.make_credential("pw")
    assert cred.mechanism == "SCRAM-SHA-512" and cred.iterations == 4096
    assert len(cred.stored_key) == len(cred.server_key) == 64


def test_mechanism_is_case_insensitive_and_canonical():
    assert scram.make_credential("pw", "scram-sha-256").mechanism == "SCRAM-SHA-256"


# --- validation ---------------------------------------------------------------------

@pytest.mark.parametrize("iterations", [4095, 16385, 0, -1, True, "4096", 4096.0])
def test_iterations_outside_kafka_limits_are_refused(iterations):
    with pytest.raises(ValueError, match="iterations"):
        scram.make_credential("pw", iterations=iterations)


@pytest.mark.parametrize("iterations", [4096, 16384])
def test_iteration_bounds_are_inclusive(iterations):
    assert scram.make_credential("pw", iterations=iterations).iterations == iterations


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "PLAIN", "", None, "SCRAM_SHA_512"])
def test_unknown_mechanism_is_refused(mechanism):
    with pytest.raises(ValueError, match="mechanism"):
        scram.make_credential("pw", mechanism=mechanism)


def test_empty_or_non_string_password_is_refused_without_echo():
    with pytest.raises(ValueError, match="password must not be empty"):
        scram.make_credential("")
    with pytest.raises(ValueError, match="password must be a string"):
        scram.make_credential(b"bytes-secret")


def test_salt_must_be_bytes():
    with pytest.raises(ValueError, match="salt"):
        scram.make_credential("pw", salt="text")
    with pytest.raises(ValueError, match="salt"):
        scram.make_credential("pw", salt=b"")


@pytest.mark.parametrize("username,message", [
    ("", "must not be empty"),
    (None, "must be a string"),
    ("bad\nname", "must not contain control characters"),
    ("nul\x00", "must not contain control characters"),
])
def test_username_validation(username, message):
    with pytest.raises(ValueError, match=f"username {message}"):
        scram.validate_username(username)
    with pytest.raises(ValueError, match="username"):
        scram.user_znode_path(username)


@pytest.mark.parametrize("username", ["alice", "CN=x,O=y", "with space", "\u00fc", "<default>"])
def test_usernames_kafka_accepts_are_accepted(username):
    assert scram.validate_username(username) == username


def test_nothing_secret_in_repr_or_str():
    password = "Sup3r-Secret-Pa55"
    cred = scram.make_credential(password)
    for text in (repr(cred), str(cred)):
        assert password not in text
        assert base64.b64encode(cred.stored_key).decode() not in text
        assert base64.b64encode(cred.server_key).decode() not in text
        assert "SCRAM-SHA-512" in text and "4096" in text


def test_credential_object_checks_key_lengths():
    cred = scram.make_credential("pw", "SCRAM-SHA-256")
    with pytest.raises(ValueError, match="stored_key must be 32 bytes"):
        ScramCredential("SCRAM-SHA-256", cred.salt, cred.stored_key + b"x", cred.server_key, 4096)
    with pytest.raises(ValueError, match="iterations"):
        ScramCredential("SCRAM-SHA-256", cred.salt, cred.stored_key, cred.server_key, 0)


def test_existing_credential_above_kafkas_upper_bound_still_parses():
    # Old kafka-configs --zookeeper only checked the minimum; such nodes must load.
    cred = scram.make_credential("pw", iterations=16384)
    text = scram.to_zk_string(cred).replace("iterations=16384", "iterations=20000")
    assert scram.from_zk_string(text, "SCRAM-SHA-512").iterations == 20000


# --- from_zk_string errors -----------------------------------------------------------

GOOD = KAFKA_ZK_STRINGS["SCRAM-SHA-512"]


@pytest.mark.parametrize("text,message", [
    ("", "non-empty"),
    ("salt=abc", "exactly the fields"),
    (GOOD + ",extra=1", "exactly the fields"),
    (GOOD.replace("iterations=4096", "iterations=many"), "non-integer 'iterations'"),
    (GOOD.replace("salt=a2Fma2", "salt=!!!!a2"), "invalid base64 value in field 'salt'"),
    ("salt=a,salt=b,stored_key=c,iterations=1", "repeats the field 'salt'"),
    ("garbage", "not a SCRAM credential string"),
    (GOOD.replace("server_key=", "=x,server_key="), "not a SCRAM credential string"),
])
def test_from_zk_string_errors(text, message):
    with pytest.raises(ValueError, match=message) as excinfo:
        scram.from_zk_string(text, "SCRAM-SHA-512")
    assert "uphLtbPHY65" not in str(excinfo.value)  # never echo key material


def test_from_zk_string_wrong_mechanism_key_length():
    with pytest.raises(ValueError, match="32 bytes"):
        scram.from_zk_string(GOOD, "SCRAM-SHA-256")


# --- ZooKeeper znode payloads -------------------------------------------------------

def test_user_znode_data_exact_format():
    cred = scram.from_zk_string(GOOD, "SCRAM-SHA-512")
    data = scram.user_znode_data({"SCRAM-SHA-512": cred})
    assert data == ('{"version":1,"config":{"SCRAM-SHA-512":"' + GOOD + '"}}').encode()


def test_user_znode_upsert_keeps_quotas_and_other_mechanism():
    # Bytes exactly as Kafka's ConfigEntityZNode.encode wrote them in the probe.
    kafka_written = b'{"version":1,"config":{"SCRAM-SHA-512":"x","consumer_byte_rate":"1024"}}'
    existing = scram.parse_user_znode(kafka_written)
    assert existing == {"SCRAM-SHA-512": "x", "consumer_byte_rate": "1024"}
    existing["SCRAM-SHA-256"] = KAFKA_ZK_STRINGS["SCRAM-SHA-256"]
    new_cred = scram.make_credential("pw", "SCRAM-SHA-512")
    merged = json.loads(scram.user_znode_data({"SCRAM-SHA-512": new_cred}, existing))
    assert merged["version"] == 1
    assert merged["config"] == {
        "SCRAM-SHA-256": KAFKA_ZK_STRINGS["SCRAM-SHA-256"],
        "SCRAM-SHA-512": scram.to_zk_string(new_cred),
        "consumer_byte_rate": "1024",
    }
    assert list(merged["config"]) == sorted(merged["config"])
    # Removing a mechanism keeps everything else.
    trimmed = scram.parse_user_znode(scram.user_znode_data({}, existing, remove_mechanisms=["scram-sha-256"]))
    assert trimmed == {"SCRAM-SHA-512": "x", "consumer_byte_rate": "1024"}


def test_user_znode_data_rejects_mismatched_mechanism():
    cred = scram.make_credential("pw", "SCRAM-SHA-256")
    with pytest.raises(ValueError, match="holds a SCRAM-SHA-256 credential"):
        scram.user_znode_data({"SCRAM-SHA-512": cred})
    with pytest.raises(ValueError, match="creds key"):
        scram.user_znode_data({"PLAIN": cred})
    with pytest.raises(ValueError, match="must be a ScramCredential"):
        scram.user_znode_data({"SCRAM-SHA-256": "salt=..."})
    with pytest.raises(ValueError, match="creds must be a dict"):
        scram.user_znode_data([cred])


def test_user_znode_data_is_compact_utf8_like_jackson():
    # Kafka's probe printed {"version":1,"config":{"k":"ü/\""}} for this map.
    data = scram.user_znode_data({}, {"k": "\u00fc/\""})
    assert data == '{"version":1,"config":{"k":"\u00fc/\\""}}'.encode("utf-8")


@pytest.mark.parametrize("data,expected", [(None, {}), (b"", {}), ('{"version":1}', {})])
def test_parse_user_znode_empty(data, expected):
    assert scram.parse_user_znode(data) == expected


@pytest.mark.parametrize("data,message", [
    (b"not json", "data is not JSON"),
    (b"[1]", "JSON object"),
    (b'{"version":2,"config":{}}', "unsupported version 2"),
    (b'{"version":1,"config":[]}', "'config' must be a JSON object"),
    (b'{"version":1,"config":{"a":1}}', "config key 'a' must hold a string"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_parse_user_znode_errors(data, message):
    with pytest.raises(ValueError, match=message):
        scram.parse_user_znode(data)


def test_scram_credentials_from_config_ignores_quota_keys():
    config = {"SCRAM-SHA-512": GOOD, "producer_byte_rate": "1"}
    creds = scram.scram_credentials_from_config(config)
    assert list(creds) == ["SCRAM-SHA-512"]
    assert scram.verify_password(creds["SCRAM-SHA-512"], KAFKA_FIXED_PASSWORD)


def test_change_notification_exact_format():
    assert scram.change_notification_data("users/alice") == b'{"version":2,"entity_path":"users/alice"}'
    # Kafka's probe: encode("users/al%20ice") -> {"version":2,"entity_path":"users/al%20ice"}
    assert scram.change_notification_data(scram.user_entity_path("al ice")) == \
        b'{"version":2,"entity_path":"users/al%20ice"}'
    assert scram.CHANGE_NOTIFICATION_PREFIX == "/config/changes/config_change_"


@pytest.mark.parametrize("entity_path,message", [
    ("alice", "<type>/<name>"),
    ("people/alice", "type must be one of"),
    ("users/", "empty entity name"),
    (None, "<type>/<name>"),
])
def test_change_notification_errors(entity_path, message):
    with pytest.raises(ValueError, match=f"entity_path.*{message}|{message}"):
        scram.change_notification_data(entity_path)


# Kafka 3.9.2 Sanitizer.sanitize output, printed by the probe.
@pytest.mark.parametrize("name,sanitized", [
    ("alice", "alice"),
    ("al ice", "al%20ice"),
    ("a*b", "a%2Ab"),
    ("a+b~c_d.e-f", "a%2Bb%7Ec_d.e-f"),
    ("CN=x,O=y", "CN%3Dx%2CO%3Dy"),
    ("<default>", "%3Cdefault%3E"),
    ("\u00fc", "%C3%BC"),
])
def test_sanitize_matches_kafka(name, sanitized):
    assert scram.sanitize_entity_name(name) == sanitized
    assert scram.user_znode_path(name) == f"/config/users/{sanitized}"
    assert scram.user_entity_path(name) == f"users/{sanitized}"


# --- idempotence decision ---------------------------------------------------------------

def test_credential_needs_update():
    cred = scram.make_credential("pw-1", iterations=4096)
    assert scram.credential_needs_update(None, "pw-1") == (True, "credential missing")
    assert scram.credential_needs_update(cred, "pw-1") == (False, "credential up to date")
    changed, reason = scram.credential_needs_update(cred, "pw-2")
    assert changed and reason == "password changed" and "pw-2" not in reason
    assert scram.credential_needs_update(cred, "pw-1", iterations=8192) == \
        (True, "iterations 4096 != wanted 8192")
    with pytest.raises(ValueError, match="iterations"):
        scram.credential_needs_update(cred, "pw-1", iterations=1)


def test_salted_password_matches_credential():
    cred = scram.make_credential("pw", "SCRAM-SHA-512", 4096, salt=b"salt")
    salted = scram.salted_password("pw", b"salt", 4096, "SCRAM-SHA-512")
    assert hashlib.sha512(hmac.new(salted, b"Client Key", "sha512").digest()).digest() == cred.stored_key
    with pytest.raises(ValueError, match="salt"):
        scram.salted_password("pw", b"", 4096)


def test_verify_password_rejects_non_credential():
    with pytest.raises(ValueError, match="cred must be a ScramCredential"):
        scram.verify_password("salt=...", "pw")
    with pytest.raises(ValueError, match="cred must be a ScramCredential"):
        scram.to_zk_string(None)
