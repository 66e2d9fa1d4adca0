"""Unit tests of kafkasalt.zookeeper (model, validate, render, status): validation, rendering, status parsing, health, roll order
and membership plans. Pure: no network, no Java."""

import copy
import shlex

import pytest

from kafkasalt.common import quoting
from kafkasalt.common.errors import PillarError, PillarErrors
from kafkasalt.common.secret import Secret
from kafkasalt.zookeeper import membership_rules as zk_rules
from kafkasalt.zookeeper import model as zk_model
from kafkasalt.zookeeper import render as zk_render
from kafkasalt.zookeeper import status as zk_status

PASSWORDS = {"super": "super-pw-7f3a", "quorum": "quorum-pw-91c2", "kafka": "kafka-pw-55e0"}
INSTALL_DIR = "/opt/zookeeper/apache-zookeeper-3.8.4-bin"


def base_pillar(count=3):
    members = {f"kafka{i}": {"myid": i, "address": f"127.0.0.{10 + i}"} for i in range(1, count + 1)}
    return {
        "version": "3.8.4",
        "source": "file:///root/.cache/kafkasalt/artifacts/apache-zookeeper-3.8.4-bin.tar.gz",
        "source_hash": "sha512=" + "ab" * 64,
        "members": members,
        "sasl": {
            "super_password": PASSWORDS["super"],
            "quorum_password": PASSWORDS["quorum"],
            "users": {"kafka": {"password": PASSWORDS["kafka"]}},
        },
    }


def model_of(count=3, **overrides):
    pillar = base_pillar(count)
    pillar.update(overrides)
    return zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=512)


def errors_of(pillar, heap_mb_default=None):
    with pytest.raises(PillarErrors) as info:
        zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=heap_mb_default)
    for error in info.value.errors:
        assert isinstance(error, PillarError)
    return info.value


def keys_of(pillar):
    return [error.key for error in errors_of(pillar).errors]


# ---------------------------------------------------------------------------------------------
# Replies recorded from a real ZooKeeper 3.8.4 ensemble (3 members, SASL on, this module's
# zoo.cfg). mntr is trimmed to its first lines: the full reply has ~540 lines on a leader.
# ---------------------------------------------------------------------------------------------

SRVR_LEADER = """\
Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
Latency min/avg/max: 0/3.1429/15
Received: 29
Sent: 30
Connections: 1
Outstanding: 0
Zxid: 0x10000001d
Mode: leader
Node count: 6
Proposal sizes last/min/max: 48/48/89
"""

SRVR_FOLLOWER = """\
Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
Latency min/avg/max: 1/3.375/7
Received: 20
Sent: 21
Connections: 1
Outstanding: 0
Zxid: 0x10000001d
Mode: follower
Node count: 6
"""

MNTR_LEADER = """\
zk_version\t3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
zk_server_state\tleader
zk_peer_state\tleading - broadcast
zk_ephemerals_count\t0
zk_num_alive_connections\t1
zk_avg_latency\t3.1429
zk_min_proposal_size\t48
zk_outstanding_requests\t0
zk_znode_count\t6
zk_global_sessions\t0
zk_non_mtls_remote_conn_count\t0
zk_last_client_response_size\t16
zk_packets_sent\t27
zk_packets_received\t28
zk_max_proposal_size\t89
zk_max_client_response_size\t121
zk_synced_followers\t2
zk_connection_drop_probability\t0.0
zk_watch_count\t0
zk_synced_non_voting_followers\t0
zk_synced_observers\t0
zk_auth_failed_count\t0
zk_min_latency\t0
zk_max_file_descriptor_count\t20000
zk_approximate_data_size\t189
zk_open_file_descriptor_count\t55
zk_last_proposal_size\t48
zk_pending_syncs\t0
zk_leader_uptime\t31115
zk_local_sessions\t0
zk_learners\t2
zk_quorum_size\t3
"""

MNTR_FOLLOWER = """\
zk_version\t3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
zk_server_state\tfollower
zk_peer_state\tfollowing - broadcast
zk_ephemerals_count\t0
zk_num_alive_connections\t1
zk_avg_latency\t3.375
zk_outstanding_requests\t0
zk_znode_count\t6
zk_global_sessions\t0
zk_non_mtls_remote_conn_count\t0
zk_last_client_response_size\t20
zk_packets_sent\t18
zk_quorum_size\t3
"""

NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


def leader_status(synced=2):
    mntr = MNTR_LEADER.replace("zk_synced_followers\t2", f"zk_synced_followers\t{synced}")
    return {**zk_status.parse_srvr(SRVR_LEADER), **zk_status.parse_mntr(mntr)}


def follower_status():
    return {**zk_status.parse_srvr(SRVR_FOLLOWER), **zk_status.parse_mntr(MNTR_FOLLOWER)}


def statuses_with_leader(model, leader):
    synced = model.size - 1
    return {
        mid: (leader_status(synced) if mid == leader else follower_status()) for mid in model.minion_ids
    }


# ---------------------------------------------------------------------------------------------
# Validation: every bad input names its exact key
# ---------------------------------------------------------------------------------------------


def test_valid_pillar_builds_model_sorted_by_myid():
    pillar = base_pillar()
    pillar["members"] = {
        "zk-c": {"myid": 3, "address": "127.0.0.13"},
        "zk-a": {"myid": 1, "address": "127.0.0.11"},
        "zk-b": {"myid": 2, "address": "127.0.0.12"},
    }
    model = zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=768)
    assert [(m.minion_id, m.myid, m.address) for m in model.members] == [
        ("zk-a", 1, "127.0.0.11"),
        ("zk-b", 2, "127.0.0.12"),
        ("zk-c", 3, "127.0.0.13"),
    ]
    assert model.member("zk-b") == zk_model.Member("zk-b", 2, "127.0.0.12")
    assert model.connect_string == "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181"
    assert (model.size, model.quorum_size, model.fault_tolerance) == (3, 2, 1)
    assert model.heap_mb == 768
    assert model.ports == {"client": 2181, "secure_client": 2182, "quorum": 2888, "election": 3888, "admin": 8080}
    assert (model.data_dir, model.data_log_dir) == ("/var/lib/zookeeper/data", "/var/lib/zookeeper/txlog")
    assert model.four_letter_words == ("conf", "mntr", "ruok", "srvr")
    assert model.sasl_users == ["kafka"]
    assert model.user_password("kafka") == PASSWORDS["kafka"]
    assert model.install_dir == INSTALL_DIR
    with pytest.raises(zk_model.NotAMember):
        model.member("kafka9")


def test_defaults_are_not_mutated_and_match_pillar_contract():
    before = copy.deepcopy(zk_model.DEFAULTS)
    model_of(ports={"client": 2182})
    assert zk_model.DEFAULTS == before
    assert zk_model.DEFAULTS["ports"] == {"client": 2181, "secure_client": 2182, "quorum": 2888, "election": 3888, "admin": 8080}
    assert zk_model.DEFAULTS["four_letter_words"] == ["srvr", "mntr", "ruok", "conf"]
    assert zk_model.DEFAULTS["allow_single_member"] is False


def test_heap_falls_back_to_sizing_then_zkenv_default():
    pillar = base_pillar()
    assert zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=640).heap_mb == 640
    assert zk_model.EnsembleModel.from_pillar(pillar).heap_mb == zk_model.FALLBACK_HEAP_MB
    pillar["heap_mb"] = 2048
    assert zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=640).heap_mb == 2048
    with pytest.raises(ValueError, match="heap_mb_default"):
        zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=0)


@pytest.mark.parametrize("count", [2, 4])
def test_even_member_count_is_refused(count):
    assert keys_of(base_pillar(count)) == ["zookeeper:members"]


def test_single_member_needs_explicit_permission():
    pillar = base_pillar(1)
    error = errors_of(pillar)
    assert [e.key for e in error.errors] == ["zookeeper:members"]
    assert "allow_single_member" in error.errors[0].message
    pillar["allow_single_member"] = True
    assert zk_model.EnsembleModel.from_pillar(pillar).size == 1


def test_missing_myid_names_the_member_key():
    pillar = base_pillar()
    del pillar["members"]["kafka2"]["myid"]
    assert keys_of(pillar) == ["zookeeper:members:kafka2:myid"]


def test_duplicate_myid_names_the_second_member():
    pillar = base_pillar()
    pillar["members"]["kafka3"]["myid"] = 1
    error = errors_of(pillar)
    assert [e.key for e in error.errors] == ["zookeeper:members:kafka3:myid"]
    assert "kafka1" in error.errors[0].message


@pytest.mark.parametrize("bad", [0, 256, -1, "2", 2.0, True, None])
def test_myid_must_be_integer_1_to_255(bad):
    pillar = base_pillar()
    pillar["members"]["kafka2"]["myid"] = bad
    assert keys_of(pillar) == ["zookeeper:members:kafka2:myid"]


def test_missing_address_names_the_member_key():
    pillar = base_pillar()
    del pillar["members"]["kafka3"]["address"]
    assert keys_of(pillar) == ["zookeeper:members:kafka3:address"]


@pytest.mark.parametrize(
    "bad", ["127.0.0.300", "bad_host", "-zk.example.com", "[::1]", "fe80::zz", "", 42, "a" * 64 + ".com"]
)
def test_invalid_address_is_refused(bad):
    pillar = base_pillar()
    pillar["members"]["kafka1"]["address"] = bad
    assert keys_of(pillar) == ["zookeeper:members:kafka1:address"]


def test_addresses_are_normalized_and_ipv6_is_bracketed_in_endpoints():
    pillar = base_pillar()
    pillar["members"]["kafka1"]["address"] = "ZK1.Example.COM"
    pillar["members"]["kafka2"]["address"] = "2001:DB8:0:0::12"
    model = zk_model.EnsembleModel.from_pillar(pillar)
    assert model.member("kafka1").address == "zk1.example.com"
    assert model.member("kafka2").address == "2001:db8::12"
    assert model.connect_string == "zk1.example.com:2181,[2001:db8::12]:2181,127.0.0.13:2181"
    cfg = zk_render.render_zoo_cfg(model, "kafka2")
    assert "server.2=[2001:db8::12]:2888:3888" in cfg.splitlines()
    assert "clientPortAddress=2001:db8::12" in cfg.splitlines()


def test_shared_address_is_refused_when_ports_collide():
    pillar = base_pillar()
    pillar["members"]["kafka2"]["address"] = "127.0.0.11"
    error = errors_of(pillar)
    assert [e.key for e in error.errors] == ["zookeeper:members:kafka2:address"]
    assert "kafka1" in error.errors[0].message


def test_shared_address_is_fine_on_distinct_ports():
    pillar = base_pillar()
    pillar["members"]["kafka2"].update(
        address="127.0.0.11", ports={"client": 2182, "quorum": 2889, "election": 3889, "admin": 8081}
    )
    model = zk_model.EnsembleModel.from_pillar(pillar)
    assert model.member("kafka2").client_endpoint == "127.0.0.11:2182"
    assert "server.2=127.0.0.11:2889:3889" in zk_render.render_zoo_cfg(model, "kafka1").splitlines()


@pytest.mark.parametrize("bad", ["2181", 0, 65536, True, None, 21.81])
def test_port_must_be_integer_1_to_65535(bad):
    pillar = base_pillar()
    pillar["ports"] = {"client": bad}
    assert keys_of(pillar) == ["zookeeper:ports:client"]


def test_clashing_ports_name_the_second_port():
    pillar = base_pillar()
    pillar["ports"] = {"admin": 2181}
    error = errors_of(pillar)
    assert [e.key for e in error.errors] == ["zookeeper:ports:admin"]
    assert "client" in error.errors[0].message


def test_member_port_override_clash_names_the_overridden_key():
    pillar = base_pillar()
    pillar["members"]["kafka1"]["ports"] = {"client": 3888}
    assert keys_of(pillar) == ["zookeeper:members:kafka1:ports:client"]


@pytest.mark.parametrize("words", [["srvr", "mntr", "*"], ["srvr", "mntr", "sush"], ["srvr", "ruok"], "srvr"])
def test_four_letter_words_refuse_star_unknown_and_missing_health_words(words):
    pillar = base_pillar()
    pillar["four_letter_words"] = words
    assert set(keys_of(pillar)) == {"zookeeper:four_letter_words"}


@pytest.mark.parametrize("key", ["data_dir", "data_log_dir"])
@pytest.mark.parametrize("bad", ["var/lib/zookeeper", "", "/", "/var/lib/zoo keeper", None])
def test_data_dirs_must_be_absolute(key, bad):
    pillar = base_pillar()
    pillar[key] = bad
    assert keys_of(pillar) == [f"zookeeper:{key}"]


@pytest.mark.parametrize("bad", [0, -512, "512", 1.5, True])
def test_heap_must_be_positive_integer(bad):
    pillar = base_pillar()
    pillar["heap_mb"] = bad
    assert keys_of(pillar) == ["zookeeper:heap_mb"]


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda s: s.pop("super_password"), "zookeeper:sasl:super_password"),
        (lambda s: s.update(quorum_password=""), "zookeeper:sasl:quorum_password"),
        (lambda s: s.update(quorum_password=123456), "zookeeper:sasl:quorum_password"),
        (lambda s: s["users"]["kafka"].pop("password"), "zookeeper:sasl:users:kafka:password"),
        (lambda s: s["users"]["kafka"].update(password=""), "zookeeper:sasl:users:kafka:password"),
        (lambda s: s["users"]["kafka"].update(password="two\nlines"), "zookeeper:sasl:users:kafka:password"),
        (lambda s: s["users"].update(super={"password": "x"}), "zookeeper:sasl:users:super"),
        (lambda s: s["users"].update({"bad name": {"password": "x"}}), "zookeeper:sasl:users:bad name"),
        (lambda s: s.update(quorum_pasword="typo"), "zookeeper:sasl:quorum_pasword"),
    ],
)
def test_sasl_passwords_must_be_present_and_non_empty(mutate, key):
    pillar = base_pillar()
    mutate(pillar["sasl"])
    assert keys_of(pillar) == [key]


def test_missing_sasl_section_reports_both_passwords():
    pillar = base_pillar()
    del pillar["sasl"]
    assert keys_of(pillar) == ["zookeeper:sasl:super_password", "zookeeper:sasl:quorum_password"]


@pytest.mark.parametrize(
    "key",
    [
        "dataDir",
        "datadir",
        "dataLogDir",
        "clientPort",
        "clientPortAddress",
        "server.4",
        "4lw.commands.whitelist",
        "authProvider.1",
        "quorum.auth.enableSasl",
        "enforce.auth.enabled",
        "sessionRequireClientSASLAuth",
        "admin.serverPort",
        "admin.enableServer",
        "reconfigEnabled",
        "DigestAuthenticationProvider.superDigest",
        "superUser",
        "skipACL",
    ],
)
def test_formula_owned_config_keys_are_refused(key):
    pillar = base_pillar()
    pillar["config"] = {key: "x"}
    assert keys_of(pillar) == [f"zookeeper:config:{key}"]


@pytest.mark.parametrize(
    "key, value",
    [
        ("tickTime", "fast"),
        ("initLimit", 0),
        ("autopurge.snapRetainCount", 2),
        ("maxClientCnxns", True),
        ("snapCount", 1.5),
        ("jute.note", "a\nserver.9=evil:1:2"),
        ("metricsProvider.className", ["list"]),
        ("bad key", 1),
    ],
)
def test_config_values_are_typed(key, value):
    pillar = base_pillar()
    pillar["config"] = {key: value}
    assert keys_of(pillar) == [f"zookeeper:config:{key}"]


def test_session_timeouts_must_be_ordered():
    pillar = base_pillar()
    pillar["config"] = {"minSessionTimeout": 30000, "maxSessionTimeout": 6000}
    assert keys_of(pillar) == ["zookeeper:config:minSessionTimeout"]


@pytest.mark.parametrize("bad", ["3.5.10", "3.4.14", "4.0.0", "3.10.0", 3.8, "3.8", "latest"])
def test_version_must_be_3_6_to_3_9(bad):
    pillar = base_pillar()
    pillar["version"] = bad
    assert keys_of(pillar) == ["zookeeper:version"]


@pytest.mark.parametrize(
    "key, value",
    [
        ("source", None),
        ("source", "/root/zk.tgz"),
        ("source_hash", None),
        ("source_hash", "md5=" + "a" * 32),
        ("source_hash", "sha512=" + "a" * 64),
    ],
)
def test_source_and_hash_are_required(key, value):
    pillar = base_pillar()
    pillar[key] = value
    assert keys_of(pillar) == [f"zookeeper:{key}"]


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda p: p.update(member={}), "zookeeper:member"),
        (lambda p: p.update(heap=512), "zookeeper:heap"),
        (lambda p: p["members"]["kafka1"].update(rack="r1"), "zookeeper:members:kafka1:rack"),
        (lambda p: p.update(ports={"clinet": 2181}), "zookeeper:ports:clinet"),
    ],
)
def test_unknown_keys_are_typos(mutate, key):
    pillar = base_pillar()
    mutate(pillar)
    assert keys_of(pillar) == [key]


def test_every_problem_is_reported_at_once_without_passwords():
    pillar = base_pillar()
    pillar["members"]["kafka2"]["myid"] = "two"
    pillar["members"]["kafka3"]["address"] = "not_valid"
    pillar["ports"] = {"admin": 2181}
    pillar["heap_mb"] = -1
    pillar["sasl"]["users"]["kafka"]["password"] = PASSWORDS["kafka"] + "\n"
    pillar["config"] = {"dataDir": PASSWORDS["super"]}
    error = errors_of(pillar)
    assert sorted(e.key for e in error.errors) == sorted(
        [
            "zookeeper:members:kafka2:myid",
            "zookeeper:members:kafka3:address",
            "zookeeper:ports:admin",
            "zookeeper:heap_mb",
            "zookeeper:sasl:users:kafka:password",
            "zookeeper:config:dataDir",
        ]
    )
    text = str(error)
    for password in PASSWORDS.values():
        assert password not in text


def test_model_repr_and_str_hide_passwords():
    model = model_of()
    for text in (repr(model), str(model), f"{model}", repr(model.super_password), f"{model.quorum_password}"):
        for password in PASSWORDS.values():
            assert password not in text
    assert model.super_password.reveal() == PASSWORDS["super"]
    assert model.super_password == Secret(PASSWORDS["super"])


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

EXPECTED_ZOO_CFG_KAFKA2 = """\
# Managed by Salt (kafkasalt). Local edits are overwritten.
# ZooKeeper 3.8.4: member kafka2 (myid 2) of a 3-member ensemble.
# No secrets in this file: passwords live in /etc/zookeeper/jaas.conf (mode 0600).

# Timing, retention and limits (zookeeper:config overrides these)
tickTime=2000
initLimit=10
syncLimit=5
maxClientCnxns=60
autopurge.snapRetainCount=3
autopurge.purgeInterval=24
quorum.cnxn.threads.size=20

# Storage
dataDir=/var/lib/zookeeper/data
dataLogDir=/var/lib/zookeeper/txlog

# Client port, bound to this member's address only
clientPortAddress=127.0.0.12
clientPort=2181

# AdminServer (HTTP), bound to this member's address only
admin.enableServer=true
admin.serverAddress=127.0.0.12
admin.serverPort=8080

# Four-letter words allowed on the client port (never '*')
4lw.commands.whitelist=conf,mntr,ruok,srvr

# Client authentication: every session must authenticate with SASL DIGEST-MD5
authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
enforce.auth.enabled=true
enforce.auth.schemes=sasl
superUser=super

# Quorum authentication between members (SASL DIGEST-MD5, user zkquorum)
quorum.auth.enableSasl=true
quorum.auth.learnerRequireSasl=true
quorum.auth.serverRequireSasl=true
quorum.auth.learner.saslLoginContext=QuorumLearner
quorum.auth.server.saslLoginContext=QuorumServer

# Static ensemble: server.<myid>=<address>:<quorum port>:<election port>
reconfigEnabled=false
server.1=127.0.0.11:2888:3888
server.2=127.0.0.12:2888:3888
server.3=127.0.0.13:2888:3888
"""


def test_zoo_cfg_exact_text():
    model = model_of()
    assert zk_render.render_zoo_cfg(model, "kafka2") == EXPECTED_ZOO_CFG_KAFKA2
    # Deterministic: same input, same bytes.
    assert zk_render.render_zoo_cfg(model_of(), "kafka2") == EXPECTED_ZOO_CFG_KAFKA2


def test_zoo_cfg_is_per_member_and_has_no_secrets():
    model = model_of()
    cfg1 = zk_render.render_zoo_cfg(model, "kafka1").splitlines()
    assert "clientPortAddress=127.0.0.11" in cfg1
    assert "admin.serverAddress=127.0.0.11" in cfg1
    for member in model.minion_ids:
        text = zk_render.render_zoo_cfg(model, member)
        for password in PASSWORDS.values():
            assert password not in text
        assert "superDigest" not in text
    with pytest.raises(zk_model.NotAMember):
        zk_render.render_zoo_cfg(model, "kafka9")


def test_zoo_cfg_config_overrides_replace_defaults_and_extras_follow():
    model = model_of(
        config={"tickTime": 3000, "snapCount": 50000, "metricsProvider.exportJvmInfo": False, "jute.path": "C:\\x"}
    )
    lines = zk_render.render_zoo_cfg(model, "kafka1").splitlines()
    block = lines[lines.index("tickTime=3000") : lines.index("# Storage") - 1]
    assert block == [
        "tickTime=3000",
        "initLimit=10",
        "syncLimit=5",
        "maxClientCnxns=60",
        "autopurge.snapRetainCount=3",
        "autopurge.purgeInterval=24",
        "quorum.cnxn.threads.size=20",
        "jute.path=C:\\\\x",
        "metricsProvider.exportJvmInfo=false",
        "snapCount=50000",
    ]


def test_zoo_cfg_for_3_6_uses_session_require_client_sasl_auth():
    lines = zk_render.render_zoo_cfg(model_of(version="3.6.4"), "kafka1").splitlines()
    assert "sessionRequireClientSASLAuth=true" in lines
    assert not [line for line in lines if line.startswith("enforce.auth.")]


def test_myid_file():
    model = model_of()
    assert zk_render.render_myid(model, "kafka3") == "3\n"


def test_jaas_exact_text_with_escaping():
    pillar = base_pillar()
    pillar["sasl"]["super_password"] = 'sup"er\\pw'
    pillar["sasl"]["users"]["broker-2"] = {"password": "b2"}
    model = zk_model.EnsembleModel.from_pillar(pillar)
    assert zk_render.render_jaas(model) == (
        "// Managed by Salt (kafkasalt). Local edits are overwritten.\n"
        "// Contains passwords: mode 0600, owner zookeeper. Never copy it elsewhere.\n"
        "\n"
        "// Clients (SASL DIGEST-MD5). 'super' is the operator super user (superUser in zoo.cfg).\n"
        "Server {\n"
        "    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '    user_super="sup\\"er\\\\pw"\n'
        '    user_broker-2="b2"\n'
        f'    user_kafka="{PASSWORDS["kafka"]}";\n'
        "};\n"
        "\n"
        "// Quorum: this member accepting other members\n"
        "QuorumServer {\n"
        "    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        f'    user_zkquorum="{PASSWORDS["quorum"]}";\n'
        "};\n"
        "\n"
        "// Quorum: this member connecting to the leader\n"
        "QuorumLearner {\n"
        "    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '    username="zkquorum"\n'
        f'    password="{PASSWORDS["quorum"]}";\n'
        "};\n"
    )


@pytest.mark.parametrize(
    "user, password, expected",
    [
        # Printed by: java org.apache.zookeeper.server.auth.DigestAuthenticationProvider (3.8.4)
        ("super", "s3cr3t", "super:MMTxful64zvfzPZeAZrxG8wfw64="),
        ("kafka", "pa:ss wörd", "kafka:otvOC6YKHff8D8zSc+1INT9aTrM="),
    ],
)
def test_super_digest_matches_zookeeper(user, password, expected):
    assert zk_render.super_digest(user, password) == expected


def test_super_digest_rejects_bad_user():
    with pytest.raises(ValueError):
        zk_render.super_digest("a:b", "x")


EXPECTED_ARGV = [
    "/usr/bin/java",
    "-Xms512m",
    "-Xmx512m",
    "-XX:+HeapDumpOnOutOfMemoryError",
    "-XX:HeapDumpPath=/var/log/zookeeper",
    "-XX:+ExitOnOutOfMemoryError",
    "-Dzookeeper.log.dir=/var/log/zookeeper",
    "-Djava.security.auth.login.config=/etc/zookeeper/jaas.conf",
    "-cp",
    f"{INSTALL_DIR}/lib/*:{INSTALL_DIR}/conf",
    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    "/etc/zookeeper/zoo.cfg",
]


def test_command_exact_argv_without_secrets():
    model = model_of()
    argv = zk_render.command(model, "kafka1", INSTALL_DIR + "/")
    assert argv == EXPECTED_ARGV
    assert zk_render.java_options(model, "kafka1", INSTALL_DIR) == EXPECTED_ARGV[1:]
    joined = " ".join(argv)
    for password in PASSWORDS.values():
        assert password not in joined
    assert "superDigest" not in joined


def test_command_refuses_relative_install_dir_and_strangers():
    with pytest.raises(ValueError, match="install_dir"):
        zk_render.command(model_of(), "kafka1", "opt/zookeeper")
    with pytest.raises(zk_model.NotAMember):
        zk_render.command(model_of(), "kafka9", INSTALL_DIR)


def test_java_args_file_exact_text():
    assert zk_render.render_java_args(model_of(), "kafka1", INSTALL_DIR) == (
        "# Managed by Salt (kafkasalt). Local edits are overwritten.\n"
        "# JVM options of ZooKeeper 3.8.4 (member kafka1); the service runs java @/etc/zookeeper/java.args\n"
        + "".join(arg + "\n" for arg in EXPECTED_ARGV[1:])
    )
    assert zk_render.service_argv() == ["/usr/bin/java", "@/etc/zookeeper/java.args"]


def test_java_args_quote_odd_paths():
    lines = zk_render.render_java_args(model_of(), "kafka1", '/opt/zk "a" #1\\x').splitlines()
    assert '"/opt/zk \\"a\\" #1\\\\x/lib/*:/opt/zk \\"a\\" #1\\\\x/conf"' in lines


def test_java_args_super_digest_is_opt_in():
    model = model_of()
    default = zk_render.render_java_args(model, "kafka1", INSTALL_DIR)
    assert "superDigest" not in default
    lines = zk_render.render_java_args(model, "kafka1", INSTALL_DIR, with_super_digest=True).splitlines()
    digest_line = "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + zk_render.super_digest(
        "super", PASSWORDS["super"]
    )
    assert lines.index(digest_line) == lines.index("-cp") - 1
    assert PASSWORDS["super"] not in "\n".join(lines)


def test_jvm_env_is_constant_and_secret_free():
    assert zk_render.jvm_env(model_of(), "kafka2") == {"ZOOCFGDIR": "/etc/zookeeper", "ZOO_LOG_DIR": "/var/log/zookeeper"}


def test_systemd_unit_runs_java_with_the_argfile_hardened():
    model = model_of()
    text = zk_render.render_systemd_unit(model, "kafka1", INSTALL_DIR)
    lines = text.splitlines()
    assert lines[0] == "# Managed by Salt (kafkasalt). Local edits are overwritten."
    for expected in (
        "Description=Apache ZooKeeper (member kafka1, myid 1)",
        "ExecStart=/usr/bin/java @/etc/zookeeper/java.args",
        "Type=simple",
        "User=zookeeper",
        "Group=zookeeper",
        "Environment=ZOOCFGDIR=/etc/zookeeper",
        "Restart=on-failure",
        "LimitNOFILE=65536",
        "SuccessExitStatus=143",
        "UMask=0077",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/zookeeper/data /var/lib/zookeeper/txlog /var/log/zookeeper",
        "CapabilityBoundingSet=",
        "WantedBy=multi-user.target",
    ):
        assert expected in lines
    for password in PASSWORDS.values():
        assert password not in text


def test_service_definitions_do_not_change_with_heap_or_version():
    # A heap or version change must reach the JVM through java.args and the gated roll, not
    # through a unit change that supervisord would apply by restarting at once.
    before, after = model_of(), model_of(version="3.9.3", heap_mb=2048)
    other_dir = "/opt/zookeeper/apache-zookeeper-3.9.3-bin"
    assert zk_render.render_systemd_unit(before, "kafka1", INSTALL_DIR) == zk_render.render_systemd_unit(after, "kafka1", other_dir)
    assert zk_render.render_supervisord_program(before, "kafka1", INSTALL_DIR) == zk_render.render_supervisord_program(
        after, "kafka1", other_dir
    )
    assert zk_render.render_java_args(before, "kafka1", INSTALL_DIR) != zk_render.render_java_args(after, "kafka1", other_dir)


def test_systemd_quoting_keeps_specifiers_literal():
    assert quoting.systemd_quote("/opt/zk 100%$x") == '"/opt/zk 100%%$$x"'
    assert quoting.systemd_quote("@/etc/zookeeper/java.args") == "@/etc/zookeeper/java.args"


def test_supervisord_program_runs_the_same_argv():
    model = model_of()
    text = zk_render.render_supervisord_program(model, "kafka1", INSTALL_DIR)
    lines = text.splitlines()
    assert "[program:zookeeper]" in lines
    command_line = [line for line in lines if line.startswith("command=")][0]
    assert shlex.split(command_line[len("command=") :].replace("%%", "%")) == zk_render.service_argv()
    assert 'environment=ZOOCFGDIR="/etc/zookeeper",ZOO_LOG_DIR="/var/log/zookeeper"' in lines
    for expected in ("user=zookeeper", "autorestart=unexpected", "stopasgroup=true", "umask=077"):
        assert expected in lines
    for password in PASSWORDS.values():
        assert password not in text


# ---------------------------------------------------------------------------------------------
# Status parsing
# ---------------------------------------------------------------------------------------------


def test_parse_srvr_leader():
    status = zk_status.parse_srvr(SRVR_LEADER)
    assert status == {
        "version": "3.8.4",
        "version_full": "3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC",
        "latency_min": 0,
        "latency_avg": 3.1429,
        "latency_max": 15,
        "received": 29,
        "sent": 30,
        "connections": 1,
        "outstanding": 0,
        "zxid": 0x10000001D,
        "zxid_epoch": 1,
        "zxid_counter": 0x1D,
        "mode": "leader",
        "node_count": 6,
        "proposal_sizes": (48, 48, 89),
        "serving": True,
    }


def test_parse_srvr_follower_and_not_serving():
    follower = zk_status.parse_srvr(SRVR_FOLLOWER)
    assert (follower["mode"], follower["serving"], follower["zxid"]) == ("follower", True, 4294967325)
    assert "proposal_sizes" not in follower
    assert zk_status.parse_srvr(NOT_SERVING) == {"serving": False, "mode": None}


@pytest.mark.parametrize("text", ["", "   \n", "imok", "stat is not executed because it is not in the whitelist.\n"])
def test_parse_srvr_refuses_other_text(text):
    with pytest.raises(zk_status.StatusParseError):
        zk_status.parse_srvr(text)


def test_parse_mntr_types_values():
    leader = zk_status.parse_mntr(MNTR_LEADER)
    assert leader["zk_server_state"] == "leader"
    assert leader["zk_version"].startswith("3.8.4-")
    assert leader["zk_peer_state"] == "leading - broadcast"
    assert leader["zk_synced_followers"] == 2 and isinstance(leader["zk_synced_followers"], int)
    assert leader["zk_avg_latency"] == 3.1429
    assert leader["zk_connection_drop_probability"] == 0.0
    assert leader["zk_quorum_size"] == 3
    assert leader["serving"] is True
    follower = zk_status.parse_mntr(MNTR_FOLLOWER)
    assert follower["zk_server_state"] == "follower"
    assert "zk_synced_followers" not in follower
    assert zk_status.parse_mntr(NOT_SERVING) == {"serving": False}


@pytest.mark.parametrize(
    "text", ["", "zk_version 3.8.4\n", "mntr is not executed because it is not in the whitelist.\n"]
)
def test_parse_mntr_refuses_other_text(text):
    with pytest.raises(zk_status.StatusParseError):
        zk_status.parse_mntr(text)


# ---------------------------------------------------------------------------------------------
# Ensemble health and roll order
# ---------------------------------------------------------------------------------------------


def test_health_healthy():
    model = model_of()
    health = zk_status.ensemble_health(model, statuses_with_leader(model, "kafka2"))
    assert health["verdict"] == "healthy"
    assert health["reasons"] == []
    assert health["leader"] == "kafka2"
    assert health["serving"] == ["kafka1", "kafka2", "kafka3"]
    assert (health["down"], health["quorum_held"], health["synced_followers"]) == ([], True, 2)


def test_health_degraded_names_the_down_member():
    model = model_of()
    statuses = statuses_with_leader(model, "kafka1")
    statuses["kafka1"] = leader_status(synced=1)
    statuses["kafka3"] = None
    health = zk_status.ensemble_health(model, statuses)
    assert health["verdict"] == "degraded"
    assert health["down"] == ["kafka3"]
    assert health["reasons"] == [
        "kafka3 is down: unreachable",
        "leader kafka1 reports 1 synced followers, expected 2",
    ]


def test_health_down_when_quorum_lost():
    model = model_of()
    statuses = {
        "kafka1": zk_status.parse_srvr(NOT_SERVING),
        "kafka2": ConnectionRefusedError("[Errno 111] Connection refused"),
    }
    health = zk_status.ensemble_health(model, statuses)
    assert health["verdict"] == "down"
    assert health["down"] == ["kafka1", "kafka2", "kafka3"]
    assert health["reasons"] == [
        "quorum lost: 0 of 3 members serving, 2 needed",
        "kafka1 is down: running but not serving (no quorum or election in progress)",
        "kafka2 is down: ConnectionRefusedError: [Errno 111] Connection refused",
        "kafka3 is down: no status collected",
    ]


def test_health_flags_missing_synced_followers_and_split_brain():
    model = model_of()
    statuses = statuses_with_leader(model, "kafka1")
    statuses["kafka1"] = zk_status.parse_srvr(SRVR_LEADER)  # srvr only: cannot confirm followers
    health = zk_status.ensemble_health(model, statuses)
    assert health["verdict"] == "degraded"
    assert health["reasons"] == ["leader kafka1: synced followers unknown (no mntr data)"]

    statuses["kafka3"] = leader_status(synced=0)
    health = zk_status.ensemble_health(model, statuses)
    assert health["verdict"] == "down"
    assert health["reasons"][0] == "split brain: kafka1 and kafka3 all report leader mode"
    assert health["leader"] is None


def test_health_of_a_five_member_ensemble_with_one_down_keeps_quorum():
    model = model_of(5)
    statuses = statuses_with_leader(model, "kafka5")
    statuses["kafka5"] = leader_status(synced=3)
    statuses["kafka2"] = "timed out"
    health = zk_status.ensemble_health(model, statuses)
    assert health["verdict"] == "degraded"
    assert health["quorum_held"] is True
    assert health["reasons"] == [
        "kafka2 is down: timed out",
        "leader kafka5 reports 3 synced followers, expected 4",
    ]


def test_health_single_standalone_member_and_strangers():
    model = model_of(1, allow_single_member=True)
    standalone = zk_status.parse_srvr(SRVR_LEADER.replace("Mode: leader", "Mode: standalone"))
    health = zk_status.ensemble_health(model, {"kafka1": standalone, "kafka7": standalone})
    assert health["verdict"] == "healthy"
    assert health["leader"] == "kafka1"
    assert health["ignored"] == ["kafka7"]


def test_roll_order_followers_by_myid_leader_last_down_first():
    model = model_of(5)
    statuses = statuses_with_leader(model, "kafka2")
    assert zk_status.roll_order(model, statuses) == ["kafka1", "kafka3", "kafka4", "kafka5", "kafka2"]
    statuses["kafka4"] = None
    assert zk_status.roll_order(model, statuses) == ["kafka4", "kafka1", "kafka3", "kafka5", "kafka2"]
    assert zk_status.roll_order(model, {}) == model.minion_ids


# ---------------------------------------------------------------------------------------------
# Membership changes
# ---------------------------------------------------------------------------------------------


def plan_summary(plan):
    return [(step["action"], step["minion_id"]) for step in plan]


def test_grow_3_to_5():
    old, new = model_of(3), model_of(5)
    statuses = statuses_with_leader(old, "kafka2")
    plan = zk_rules.membership_change_plan(old, new, statuses)
    assert plan_summary(plan) == [
        ("start", "kafka4"),
        ("start", "kafka5"),
        ("reconfigure", "kafka1"),
        ("reconfigure", "kafka3"),
        ("reconfigure", "kafka2"),
    ]
    assert [step["config"] for step in plan] == ["new"] * 5
    assert plan[0]["require_serving"] == ["kafka1", "kafka2", "kafka3"]
    assert plan[1]["require_serving"] == ["kafka1", "kafka2", "kafka3", "kafka4"]
    assert all(step["leader_in"] == ["kafka2"] for step in plan)
    assert all(step["wait_for"] == "serving" for step in plan)
    # Followers restart under the old leader's 3-member list; the leader's step is an election
    # among the four members that already run the 5-member list.
    assert plan[2]["quorum"] == {"list": "old", "serving_voters": 2, "needed": 2}
    assert plan[4]["quorum"] == {"list": "new", "serving_voters": 4, "needed": 3}


def test_shrink_5_to_3_with_a_staying_leader():
    old, new = model_of(5), model_of(3)
    plan = zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka2"))
    assert plan_summary(plan) == [
        ("reconfigure", "kafka1"),
        ("reconfigure", "kafka3"),
        ("reconfigure", "kafka2"),
        ("stop", "kafka4"),
        ("stop", "kafka5"),
    ]
    # The removed members keep voting so the old leader keeps 3 of 5 while followers restart.
    assert plan[0]["require_serving"] == ["kafka1", "kafka2", "kafka3", "kafka4", "kafka5"]
    assert plan[0]["quorum"] == {"list": "old", "serving_voters": 4, "needed": 3}
    assert plan[2]["quorum"] == {"list": "new", "serving_voters": 2, "needed": 2}
    # After the switch the removed members cannot follow the new leader: only stayers must serve.
    assert plan[3]["require_serving"] == ["kafka1", "kafka2", "kafka3"]
    assert plan[3]["wait_for"] == "stopped"
    assert [step["decommission"] for step in plan] == [False, False, False, True, True]


def test_shrink_5_to_3_hands_leadership_over_first_when_the_leader_goes():
    old, new = model_of(5), model_of(3)
    plan = zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka5"))
    assert plan_summary(plan) == [
        ("stop", "kafka4"),
        ("stop", "kafka5"),
        ("start", "kafka4"),
        ("start", "kafka5"),
        ("replan", None),
    ]
    assert plan[2]["config"] == "old"
    # Handing leadership over stops members only for a while: nothing is decommissioned yet.
    assert not any(step["decommission"] for step in plan)
    assert plan[1]["quorum"] == {"list": "old", "serving_voters": 3, "needed": 3}
    assert plan[2]["leader_in"] == ["kafka1", "kafka2", "kafka3"]


def test_shrink_7_to_5_stops_removed_members_first():
    old, new = model_of(7), model_of(5)
    plan = zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka3"))
    assert plan_summary(plan) == [
        ("stop", "kafka6"),
        ("stop", "kafka7"),
        ("reconfigure", "kafka1"),
        ("reconfigure", "kafka2"),
        ("reconfigure", "kafka4"),
        ("reconfigure", "kafka5"),
        ("reconfigure", "kafka3"),
    ]
    assert plan[5]["quorum"] == {"list": "old", "serving_voters": 4, "needed": 4}


def test_shrink_3_to_1_is_refused():
    old, new = model_of(3), model_of(1, allow_single_member=True)
    with pytest.raises(zk_rules.MembershipChangeRefused) as info:
        zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka1"))
    assert isinstance(info.value, PillarErrors)
    assert [e.key for e in info.value.errors] == ["zookeeper:members"]
    assert "removes 2 of 3 members" in info.value.errors[0].message
    assert "quorum" in info.value.errors[0].message


def test_grow_3_to_7_is_refused():
    old, new = model_of(3), model_of(7)
    with pytest.raises(zk_rules.MembershipChangeRefused) as info:
        zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka1"))
    assert [e.key for e in info.value.errors] == ["zookeeper:members"]
    assert "3 -> 5 -> 7" in info.value.errors[0].message


def test_replacing_a_member_in_one_change_is_refused():
    old = model_of(3)
    pillar = base_pillar(3)
    del pillar["members"]["kafka3"]
    pillar["members"]["kafka4"] = {"myid": 3, "address": "127.0.0.14"}
    new = zk_model.EnsembleModel.from_pillar(pillar)
    with pytest.raises(zk_rules.MembershipChangeRefused) as info:
        zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka1"))
    keys = [e.key for e in info.value.errors]
    assert keys == ["zookeeper:members:kafka4:myid", "zookeeper:members"]
    assert "grow first, then shrink" in info.value.errors[1].message


def test_changed_myid_of_a_staying_member_is_refused():
    old = model_of(3)
    pillar = base_pillar(5)
    pillar["members"]["kafka2"]["myid"] = 9
    new = zk_model.EnsembleModel.from_pillar(pillar)
    with pytest.raises(zk_rules.MembershipChangeRefused) as info:
        zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka1"))
    assert [e.key for e in info.value.errors] == ["zookeeper:members:kafka2:myid"]
    assert "from 2 to 9" in info.value.errors[0].message


def test_changed_address_of_a_staying_member_is_refused():
    old = model_of(3)
    pillar = base_pillar(5)
    pillar["members"]["kafka2"]["address"] = "127.0.0.99"
    new = zk_model.EnsembleModel.from_pillar(pillar)
    with pytest.raises(zk_rules.MembershipChangeRefused) as info:
        zk_rules.membership_change_plan(old, new, statuses_with_leader(old, "kafka1"))
    assert [e.key for e in info.value.errors] == ["zookeeper:members:kafka2:address"]


def test_plan_needs_statuses_and_a_healthy_ensemble():
    old, new = model_of(3), model_of(5)
    with pytest.raises(zk_rules.MembershipChangeRefused, match="pass the members' statuses"):
        zk_rules.membership_change_plan(old, new)
    statuses = statuses_with_leader(old, "kafka1")
    statuses["kafka3"] = None
    with pytest.raises(zk_rules.MembershipChangeRefused, match="kafka3 not serving"):
        zk_rules.membership_change_plan(old, new, statuses)


def test_shrink_may_remove_a_dead_member():
    old, new = model_of(5), model_of(3)
    statuses = statuses_with_leader(old, "kafka3")
    statuses["kafka5"] = None
    plan = zk_rules.membership_change_plan(old, new, statuses)
    assert plan_summary(plan) == [
        ("reconfigure", "kafka1"),
        ("reconfigure", "kafka2"),
        ("reconfigure", "kafka3"),
        ("stop", "kafka4"),
        ("stop", "kafka5"),
    ]
    assert plan[0]["quorum"] == {"list": "old", "serving_voters": 3, "needed": 3}
    # Both removed members are decommissioned, the dead one too: it must never come back.
    assert [step["decommission"] for step in plan] == [False, False, False, True, True]


def test_unchanged_membership_needs_no_plan():
    old = model_of(3)
    assert zk_rules.membership_change_plan(old, model_of(3, heap_mb=1024), statuses_with_leader(old, "kafka1")) == []


def test_quorum_port_change_cannot_be_rolled():
    old = model_of(3)
    with pytest.raises(zk_rules.MembershipChangeRefused) as info:
        zk_rules.membership_change_plan(old, model_of(3, ports={"quorum": 2999}), statuses_with_leader(old, "kafka1"))
    assert [e.key for e in info.value.errors] == ["zookeeper:ports:quorum"]
    assert "stop every member" in info.value.errors[0].message
    pillar = base_pillar(3)
    pillar["members"]["kafka2"]["ports"] = {"election": 3999}
    with pytest.raises(zk_rules.MembershipChangeRefused) as info:
        zk_rules.membership_change_plan(old, zk_model.EnsembleModel.from_pillar(pillar), statuses_with_leader(old, "kafka1"))
    assert [e.key for e in info.value.errors] == ["zookeeper:members:kafka2:ports:election"]


def test_quorum_replay_refuses_a_plan_that_loses_quorum():
    old, new = model_of(3), model_of(3)
    losing = [
        {"action": "stop", "minion_id": "kafka1", "config": None},
        {"action": "stop", "minion_id": "kafka2", "config": None},
    ]
    with pytest.raises(zk_rules.MembershipChangeRefused, match=r"step 2 \(stop kafka2\) leaves leader kafka3 with 1"):
        zk_rules._check_steps_keep_quorum(losing, old, new, "kafka3", set(old.minion_ids))


def test_health_accepts_mntr_nested_under_srvr():
    # The shape zookeeper_ensemble.status builds: {"serving": True, **srvr, "mntr": mntr}.
    model = model_of()
    nested = {
        mid: {"serving": True, **zk_status.parse_srvr(srvr), "mntr": zk_status.parse_mntr(mntr)}
        for mid, srvr, mntr in (
            ("kafka1", SRVR_FOLLOWER, MNTR_FOLLOWER),
            ("kafka2", SRVR_LEADER, MNTR_LEADER),
            ("kafka3", SRVR_FOLLOWER, MNTR_FOLLOWER),
        )
    }
    health = zk_status.ensemble_health(model, nested)
    assert (health["verdict"], health["leader"], health["synced_followers"]) == ("healthy", "kafka2", 2)
    nested["kafka3"] = {"serving": False, "error": "127.0.0.13:2181 did not answer 'srvr': timed out"}
    health = zk_status.ensemble_health(model, nested)
    assert health["reasons"][0] == "kafka3 is down: 127.0.0.13:2181 did not answer 'srvr': timed out"


def test_dist_name_and_install_dir_follow_the_version():
    model = model_of(version="3.9.3")
    assert model.dist_name == "apache-zookeeper-3.9.3-bin"
    assert model.install_dir == "/opt/zookeeper/apache-zookeeper-3.9.3-bin"


def test_package_install_uses_the_os_jars_and_needs_no_source():
    pillar = base_pillar(3)
    del pillar["source"], pillar["source_hash"]
    pillar.update(install="package", version="3.8.0")
    model = zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=512)
    assert (model.install, model.source, model.install_dir) == ("package", None, "/usr/share/zookeeper")
    assert model.packages == ("zookeeper", "libservlet-api-java", "libslf4j-java")
    options = zk_render.java_options(model, "kafka1", model.install_dir)
    assert options[options.index("-cp") + 1] == (
        "/usr/share/java/zookeeper.jar:/usr/share/java/servlet-api.jar:/usr/share/java/slf4j-simple.jar")


@pytest.mark.parametrize("changes, key", [
    ({"install": "rpm"}, "zookeeper:install"),
    ({"install": "package", "packages": []}, "zookeeper:packages"),
    ({"install": "package", "packages": ["zookeeper; rm -rf /"]}, "zookeeper:packages"),
    ({"install": "package", "package_classpath": ["relative.jar"]}, "zookeeper:package_classpath"),
])
def test_bad_install_pillar_names_the_key(changes, key):
    pillar = base_pillar(3)
    pillar.update(changes)
    assert key in keys_of(pillar)


def test_archive_install_still_needs_source_and_hash():
    pillar = base_pillar(3)
    del pillar["source"]
    assert "zookeeper:source" in keys_of(pillar)
