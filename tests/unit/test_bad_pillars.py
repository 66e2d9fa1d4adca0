"""Bad pillars as operators write them, refused on the master before any host changes.

Every case is one mistake (a typo, a YAML type surprise such as ``yes`` -> true or ``3.9`` -> a
number, a quoted number, a list for a mapping, null, an empty string, a negative number, a
duplicate) in an otherwise valid pillar. Each must (a) be refused with
:class:`~kafkasalt.common.errors.PillarErrors` or :class:`~kafkasalt.common.errors.PillarError`
(or a runner failure), never another exception, and (b) name the pillar key at fault.

The sections are checked the way the master checks them: the ``zookeeper:`` and ``kafka:``
models, the ``kafka_host:`` settings, the two runners' ``plan`` with a fake ``__salt__`` and
``__opts__`` (as ``salt-run ... plan`` does it), and the ``kafka_pki`` ext_pillar.
"""

import copy
import importlib.util
import os

import pytest

from kafkasalt.common.errors import PillarError, PillarErrors
from kafkasalt.kafka import model as kafka_model
from kafkasalt.zookeeper import model as zk_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GIB = 1024**3
DELETE = object()  # the key is left out of the pillar

ZOOKEEPER = {
    "version": "3.8.4",
    "source": "file:///root/.cache/kafkasalt/artifacts/apache-zookeeper-3.8.4-bin.tar.gz",
    "source_hash": "sha512=" + "ab" * 64,
    "members": {
        "kafka1": {"myid": 1, "address": "127.0.0.11"},
        "kafka2": {"myid": 2, "address": "127.0.0.12"},
        "kafka3": {"myid": 3, "address": "127.0.0.13"},
    },
    "sasl": {
        "super_password": "super-Secret-1",
        "quorum_password": "quorum-Secret-2",
        "users": {"kafka": {"password": "zk-Secret-3"}},
    },
}

KAFKA = {
    "cluster_name": "lab",
    "version": "3.9.2",
    "source": "file:///root/.cache/kafkasalt/artifacts/kafka_2.13-3.9.2.tgz",
    "source_hash": "sha512=" + "cd" * 64,
    "brokers": {
        "kafka1": {"broker_id": 1, "address": "127.0.0.11", "rack": "r1"},
        "kafka2": {"broker_id": 2, "address": "127.0.0.12", "rack": "r2"},
        "kafka3": {"broker_id": 3, "address": "127.0.0.13", "rack": "r3"},
    },
    "super_user": {"name": "admin", "password": "admin-Secret-4"},
    "inter_broker_user": {"name": "broker", "password": "broker-Secret-5"},
    "users": {"app": {"password": "app-Secret-6"}},
    "topics": {"orders": {"partitions": 6, "replication_factor": 3, "config": {"retention.ms": 86400000}}},
    "acls": [
        {"role": "producer", "principal": "User:app", "topic": "orders"},
        {"resource_type": "GROUP", "resource_name": "billing-", "pattern_type": "PREFIXED",
         "principal": "User:app", "operation": "READ"},
    ],
}

KAFKA_HOST = {"service_manager": "supervisord", "nofile": 16384, "kernel_tuning": {"apply_live": False}}

PASSWORDS = ("super-Secret-1", "quorum-Secret-2", "zk-Secret-3", "admin-Secret-4", "broker-Secret-5",
             "app-Secret-6", "x-Secret-7")

# What the master's grain cache knows: 4 GiB of RAM on every host.
SIZING = {minion: {"mem_total_bytes": 4 * GIB} for minion in ("kafka1", "kafka2", "kafka3")}


def mutated(base, changes):
    """A deep copy of ``base`` with ``{"a:b:c": value}`` set (``DELETE`` removes the key), or
    ``changes(pillar)`` applied when it is a function (it may return a replacement)."""
    pillar = copy.deepcopy(base)
    if callable(changes):
        replaced = changes(pillar)
        return pillar if replaced is None else replaced
    for path, value in changes.items():
        *parents, last = path.split(":")
        node = pillar
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return pillar


def refused_keys(check):
    """The keys of the errors ``check()`` raises; anything but PillarError(s) fails the test."""
    with pytest.raises((PillarError, PillarErrors)) as caught:
        check()
    errors = caught.value.errors if isinstance(caught.value, PillarErrors) else [caught.value]
    assert errors and all(isinstance(error, PillarError) for error in errors)
    assert not [p for p in PASSWORDS if p in str(caught.value)], "a message shows a password"
    return [error.key for error in errors]


# --- zookeeper: -------------------------------------------------------------------------------

ZK_CASES = [
    ("version-read-as-a-number", {"version": 3.8}, "zookeeper:version"),
    ("version-without-patch", {"version": "3.8"}, "zookeeper:version"),
    ("version-unsupported", {"version": "4.0.0"}, "zookeeper:version"),
    ("version-null", {"version": None}, "zookeeper:version"),
    ("version-block-scalar-newline", {"version": "3.8.4\n"}, "zookeeper:version"),
    ("install-unknown-method", {"install": "apt"}, "zookeeper:install"),
    ("install-as-list", {"install": ["archive"]}, "zookeeper:install"),
    ("source-null", {"source": None}, "zookeeper:source"),
    ("source-without-scheme", {"source": "/tmp/zookeeper.tgz"}, "zookeeper:source"),
    ("source-hash-sha1", {"source_hash": "sha1=" + "a" * 40}, "zookeeper:source_hash"),
    ("source-hash-short", {"source_hash": "sha512=" + "a" * 127}, "zookeeper:source_hash"),
    ("source-hash-missing", {"source_hash": DELETE}, "zookeeper:source_hash"),
    ("packages-as-string", {"install": "package", "packages": "zookeeper"}, "zookeeper:packages"),
    ("packages-misspelt-beside-archive", {"packages": ["Zoo Keeper"]}, "zookeeper:packages"),
    ("classpath-relative", {"install": "package", "package_classpath": ["zookeeper.jar"]},
     "zookeeper:package_classpath"),
    ("allow-single-member-quoted", {"allow_single_member": "yes"}, "zookeeper:allow_single_member"),
    ("members-as-list", {"members": [{"myid": 1, "address": "127.0.0.11"}]}, "zookeeper:members"),
    ("members-empty", {"members": {}}, "zookeeper:members"),
    ("members-as-string", {"members": "kafka1,kafka2,kafka3"}, "zookeeper:members"),
    ("member-null", {"members:kafka1": None}, "zookeeper:members:kafka1"),
    ("member-as-string", {"members:kafka1": "127.0.0.11"}, "zookeeper:members:kafka1"),
    ("myid-quoted", {"members:kafka1:myid": "1"}, "zookeeper:members:kafka1:myid"),
    ("myid-zero", {"members:kafka1:myid": 0}, "zookeeper:members:kafka1:myid"),
    ("myid-too-large", {"members:kafka1:myid": 256}, "zookeeper:members:kafka1:myid"),
    ("myid-float", {"members:kafka1:myid": 1.0}, "zookeeper:members:kafka1:myid"),
    ("myid-yaml-yes", {"members:kafka1:myid": True}, "zookeeper:members:kafka1:myid"),
    ("myid-duplicate", {"members:kafka2:myid": 1}, "zookeeper:members:kafka2:myid"),
    ("myid-missing", {"members:kafka1:myid": DELETE}, "zookeeper:members:kafka1:myid"),
    ("address-empty", {"members:kafka1:address": ""}, "zookeeper:members:kafka1:address"),
    ("address-bad-ipv4", {"members:kafka1:address": "10.0.0.256"}, "zookeeper:members:kafka1:address"),
    ("address-bracketed-ipv6", {"members:kafka1:address": "[::1]"}, "zookeeper:members:kafka1:address"),
    ("address-as-list", {"members:kafka1:address": ["127.0.0.11"]}, "zookeeper:members:kafka1:address"),
    ("address-missing", {"members:kafka1:address": DELETE}, "zookeeper:members:kafka1:address"),
    ("member-key-typo", {"members:kafka1:adress": "127.0.0.11"}, "zookeeper:members:kafka1:adress"),
    ("even-member-count", {"members:kafka4": {"myid": 4, "address": "127.0.0.14"}}, "zookeeper:members"),
    ("single-member-not-allowed", {"members": {"kafka1": {"myid": 1, "address": "127.0.0.11"}}},
     "zookeeper:members"),
    ("member-ports-as-string", {"members:kafka1:ports": "2181"}, "zookeeper:members:kafka1:ports"),
    ("member-port-out-of-range", {"members:kafka1:ports": {"client": 70000}},
     "zookeeper:members:kafka1:ports:client"),
    ("ports-as-list", {"ports": [2181, 2888, 3888]}, "zookeeper:ports"),
    ("port-quoted", {"ports": {"client": "2181"}}, "zookeeper:ports:client"),
    ("port-zero", {"ports": {"client": 0}}, "zookeeper:ports:client"),
    ("port-negative", {"ports": {"admin": -8080}}, "zookeeper:ports:admin"),
    ("ports-clash", {"ports": {"quorum": 3888}}, "zookeeper:ports:election"),
    ("port-name-typo", {"ports": {"admni": 8081}}, "zookeeper:ports:admni"),
    ("data-dir-relative", {"data_dir": "var/lib/zookeeper"}, "zookeeper:data_dir"),
    ("data-dir-root", {"data_dir": "/"}, "zookeeper:data_dir"),
    ("data-dir-null", {"data_dir": None}, "zookeeper:data_dir"),
    ("data-dir-with-space", {"data_dir": "/var/lib/zoo keeper"}, "zookeeper:data_dir"),
    ("data-log-dir-as-list", {"data_log_dir": ["/var/lib/zookeeper/txlog"]}, "zookeeper:data_log_dir"),
    ("heap-quoted", {"heap_mb": "512"}, "zookeeper:heap_mb"),
    ("heap-negative", {"heap_mb": -1}, "zookeeper:heap_mb"),
    ("heap-float", {"heap_mb": 1.5}, "zookeeper:heap_mb"),
    ("heap-meant-in-gib", {"heap_mb": 2}, "zookeeper:heap_mb"),
    ("heap-above-ram", {"heap_mb": 65536}, "zookeeper:heap_mb"),
    ("four-letter-words-as-string", {"four_letter_words": "srvr,mntr"}, "zookeeper:four_letter_words"),
    ("four-letter-words-wildcard", {"four_letter_words": ["*"]}, "zookeeper:four_letter_words"),
    ("four-letter-words-without-mntr", {"four_letter_words": ["srvr", "ruok"]}, "zookeeper:four_letter_words"),
    ("four-letter-words-nested", {"four_letter_words": [["mntr"], "srvr"]}, "zookeeper:four_letter_words"),
    ("sasl-null", {"sasl": None}, "zookeeper:sasl"),
    ("sasl-as-list", {"sasl": ["super"]}, "zookeeper:sasl"),
    ("super-password-null", {"sasl:super_password": None}, "zookeeper:sasl:super_password"),
    ("super-password-number", {"sasl:super_password": 123456}, "zookeeper:sasl:super_password"),
    ("quorum-password-empty", {"sasl:quorum_password": ""}, "zookeeper:sasl:quorum_password"),
    ("sasl-users-as-list", {"sasl:users": ["kafka"]}, "zookeeper:sasl:users"),
    ("sasl-users-empty-list", {"sasl:users": []}, "zookeeper:sasl:users"),
    ("sasl-user-as-string", {"sasl:users:kafka": "zk-Secret-3"}, "zookeeper:sasl:users:kafka"),
    ("sasl-user-super-reserved", {"sasl:users:super": {"password": "x-Secret-7"}}, "zookeeper:sasl:users:super"),
    ("sasl-user-password-null", {"sasl:users:kafka:password": None}, "zookeeper:sasl:users:kafka:password"),
    ("sasl-user-name-with-space", {"sasl:users:kafka user": {"password": "x-Secret-7"}},
     "zookeeper:sasl:users:kafka user"),
    ("sasl-key-typo", {"sasl:userz": {}}, "zookeeper:sasl:userz"),
    ("config-as-list", {"config": ["tickTime=2000"]}, "zookeeper:config"),
    ("config-quoted-integer", {"config": {"tickTime": "2000"}}, "zookeeper:config:tickTime"),
    ("config-owned-key", {"config": {"dataDir": "/tmp"}}, "zookeeper:config:dataDir"),
    ("config-owned-prefix", {"config": {"server.1": "127.0.0.11:2888:3888"}}, "zookeeper:config:server.1"),
    ("config-negative", {"config": {"maxClientCnxns": -1}}, "zookeeper:config:maxClientCnxns"),
    ("config-timeouts-inverted", {"config": {"minSessionTimeout": 40000, "maxSessionTimeout": 4000}},
     "zookeeper:config:minSessionTimeout"),
    ("config-value-mapping", {"config": {"snapCount": {"value": 100000}}}, "zookeeper:config:snapCount"),
    ("tls-as-string", {"tls": "on"}, "zookeeper:tls"),
    ("tls-enabled-quoted", {"tls": {"enabled": "true"}}, "zookeeper:tls:enabled"),
    ("tls-client-auth-unknown", {"tls": {"client_auth": "required"}}, "zookeeper:tls:client_auth"),
    ("tls-no-client-port-left", {"tls": {"enabled": False, "plaintext_clients": False}},
     "zookeeper:tls:plaintext_clients"),
    ("tls-key-typo", {"tls": {"enable": True}}, "zookeeper:tls:enable"),
    ("top-level-typo", {"member": {}}, "zookeeper:member"),
    ("section-as-list", lambda pillar: [pillar], "zookeeper"),
    ("section-as-string", lambda pillar: "kafka1,kafka2,kafka3", "zookeeper"),
    ("section-yaml-yes", lambda pillar: True, "zookeeper"),
]


@pytest.mark.parametrize("changes, key", [case[1:] for case in ZK_CASES], ids=[case[0] for case in ZK_CASES])
def test_zookeeper_pillar_mistake_is_refused_with_its_key(changes, key):
    pillar = mutated(ZOOKEEPER, changes)
    assert key in refused_keys(lambda: zk_model.EnsembleModel.from_pillar(pillar, sizing_by_minion=SIZING))


# --- kafka: -----------------------------------------------------------------------------------

def _ssl_inter_broker(pillar):
    pillar["listeners"] = {"CLIENT": {"port": 9093, "protocol": "SASL_SSL"}, "BROKER": {"port": 9094, "protocol": "SSL"}}


KAFKA_CASES = [
    ("section-as-list", lambda pillar: [pillar], "kafka"),
    ("section-as-string", lambda pillar: "lab", "kafka"),
    ("top-level-typo", {"broker": {}}, "kafka:broker"),
    ("cluster-name-path", {"cluster_name": "../prod"}, "kafka:cluster_name"),
    ("cluster-name-empty", {"cluster_name": ""}, "kafka:cluster_name"),
    ("cluster-name-number", {"cluster_name": 42}, "kafka:cluster_name"),
    ("cluster-name-block-scalar-newline", {"cluster_name": "lab\n"}, "kafka:cluster_name"),
    ("version-read-as-a-number", {"version": 3.9}, "kafka:version"),
    ("version-without-patch", {"version": "3.9"}, "kafka:version"),
    ("version-kraft-only", {"version": "4.0.0"}, "kafka:version"),
    ("source-omitted", {"source": DELETE, "source_hash": DELETE}, "kafka:source"),
    ("source-null", {"source": None}, "kafka:source"),
    ("source-hash-omitted-with-source", {"source_hash": DELETE}, "kafka:source_hash"),
    ("source-without-scheme", {"source": "kafka_2.13-3.9.2.tgz"}, "kafka:source"),
    ("source-hash-md5", {"source_hash": "md5=" + "a" * 32}, "kafka:source_hash"),
    ("brokers-as-list", {"brokers": ["kafka1", "kafka2", "kafka3"]}, "kafka:brokers"),
    ("brokers-empty", {"brokers": {}}, "kafka:brokers"),
    ("broker-null", {"brokers:kafka1": None}, "kafka:brokers:kafka1"),
    ("broker-id-quoted", {"brokers:kafka1:broker_id": "1"}, "kafka:brokers:kafka1:broker_id"),
    ("broker-id-negative", {"brokers:kafka1:broker_id": -1}, "kafka:brokers:kafka1:broker_id"),
    ("broker-id-duplicate", {"brokers:kafka2:broker_id": 1}, "kafka:brokers:kafka2:broker_id"),
    ("broker-id-above-reserved", {"brokers:kafka1:broker_id": 1001}, "kafka:brokers:kafka1:broker_id"),
    ("broker-id-yaml-yes", {"brokers:kafka1:broker_id": True}, "kafka:brokers:kafka1:broker_id"),
    ("broker-address-wildcard", {"brokers:kafka1:address": "0.0.0.0"}, "kafka:brokers:kafka1:address"),
    ("broker-address-empty", {"brokers:kafka1:address": ""}, "kafka:brokers:kafka1:address"),
    ("broker-address-duplicate", {"brokers:kafka2:address": "127.0.0.11"}, "kafka:brokers:kafka2:address"),
    ("broker-address-with-space", {"brokers:kafka1:address": "kafka 1"}, "kafka:brokers:kafka1:address"),
    ("broker-address-as-list", {"brokers:kafka1:address": ["127.0.0.11"]}, "kafka:brokers:kafka1:address"),
    ("broker-address-bad-ipv4", {"brokers:kafka1:address": "10.0.0.256"}, "kafka:brokers:kafka1:address"),
    ("broker-address-short-ipv4", {"brokers:kafka1:address": "10.0.1"}, "kafka:brokers:kafka1:address"),
    ("broker-rack-number", {"brokers:kafka1:rack": 1}, "kafka:brokers:kafka1:rack"),
    ("broker-rack-empty", {"brokers:kafka1:rack": ""}, "kafka:brokers:kafka1:rack"),
    ("broker-key-typo", {"brokers:kafka1:brokerid": 1}, "kafka:brokers:kafka1:brokerid"),
    ("broker-dns-names-as-string", {"brokers:kafka1:dns_names": "kafka1.example.com"},
     "kafka:brokers:kafka1:dns_names"),
    ("broker-dns-name-with-space", {"brokers:kafka1:dns_names": ["kafka 1.example.com"]},
     "kafka:brokers:kafka1:dns_names:0"),
    ("broker-dns-name-duplicate", {"brokers:kafka1:dns_names": ["k1.example.com", "K1.example.com"]},
     "kafka:brokers:kafka1:dns_names:1"),
    ("broker-config-as-list", {"brokers:kafka1:config": ["num.io.threads=8"]}, "kafka:brokers:kafka1:config"),
    ("broker-config-empty-list", {"brokers:kafka1:config": []}, "kafka:brokers:kafka1:config"),
    ("broker-config-owned-key", {"brokers:kafka1:config": {"broker.id": 7}}, "kafka:brokers:kafka1:config:broker.id"),
    ("listeners-as-list", {"listeners": ["CLIENT", "BROKER"]}, "kafka:listeners"),
    ("listeners-empty", {"listeners": {}}, "kafka:listeners"),
    ("listener-name-lower-case", {"listeners": {"client": {"port": 9093, "protocol": "SASL_SSL"},
                                                "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:client"),
    ("listener-port-quoted", {"listeners": {"CLIENT": {"port": "9093", "protocol": "SASL_SSL"},
                                            "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:CLIENT:port"),
    ("listener-port-privileged", {"listeners": {"CLIENT": {"port": 80, "protocol": "SASL_SSL"},
                                                "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:CLIENT:port"),
    ("listener-port-duplicate", {"listeners": {"CLIENT": {"port": 9094, "protocol": "SASL_SSL"},
                                               "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:CLIENT:port"),
    ("listener-protocol-unknown", {"listeners": {"CLIENT": {"port": 9093, "protocol": "TLS"},
                                                 "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:CLIENT:protocol"),
    ("listener-protocol-plaintext", {"listeners": {"CLIENT": {"port": 9092, "protocol": "PLAINTEXT"},
                                                   "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:CLIENT:protocol"),
    ("listener-as-string", {"listeners": {"CLIENT": "9093", "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:CLIENT"),
    ("listener-key-typo", {"listeners": {"CLIENT": {"port": 9093, "protocl": "SASL_SSL"},
                                         "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}},
     "kafka:listeners:CLIENT:protocl"),
    ("inter-broker-listener-as-list", {"inter_broker_listener": ["BROKER"]}, "kafka:inter_broker_listener"),
    ("inter-broker-listener-as-mapping", {"inter_broker_listener": {"BROKER": {"port": 9094}}},
     "kafka:inter_broker_listener"),
    ("inter-broker-listener-undefined", {"inter_broker_listener": "INTERNAL"}, "kafka:inter_broker_listener"),
    ("inter-broker-listener-without-sasl", _ssl_inter_broker, "kafka:inter_broker_listener"),
    ("allow-insecure-quoted", {"allow_insecure_listeners": "true"}, "kafka:allow_insecure_listeners"),
    ("sasl-mechanism-unknown", {"sasl_mechanism": "SCRAM-SHA-1"}, "kafka:sasl_mechanism"),
    ("sasl-mechanism-as-list", {"sasl_mechanism": ["SCRAM-SHA-512"]}, "kafka:sasl_mechanism"),
    ("tls-as-string", {"tls": "required"}, "kafka:tls"),
    ("tls-client-auth-yaml-yes", {"tls": {"client_auth": True}}, "kafka:tls:client_auth"),
    ("tls-key-typo", {"tls": {"clientauth": "required"}}, "kafka:tls:clientauth"),
    ("super-user-as-string", {"super_user": "admin"}, "kafka:super_user"),
    ("super-user-password-null", {"super_user:password": None}, "kafka:super_user:password"),
    ("super-user-password-number", {"super_user:password": 123456}, "kafka:super_user:password"),
    ("super-user-name-with-space", {"super_user:name": "ad min"}, "kafka:super_user:name"),
    ("super-user-name-newline", {"super_user:name": "admin\n"}, "kafka:super_user:name"),
    ("inter-broker-user-same-name", {"inter_broker_user:name": "admin"}, "kafka:inter_broker_user:name"),
    ("inter-broker-user-as-list", {"inter_broker_user": ["broker"]}, "kafka:inter_broker_user"),
    ("zookeeper-user-unknown", {"zookeeper_user": "zk"}, "kafka:zookeeper_user"),
    ("zookeeper-user-as-list", {"zookeeper_user": ["kafka"]}, "kafka:zookeeper_user"),
    ("chroot-relative", {"zookeeper_chroot": "kafka/lab"}, "kafka:zookeeper_chroot"),
    ("chroot-trailing-slash", {"zookeeper_chroot": "/kafka/lab/"}, "kafka:zookeeper_chroot"),
    ("log-dirs-as-string", {"log_dirs": "/data/kafka"}, "kafka:log_dirs"),
    ("log-dirs-empty", {"log_dirs": []}, "kafka:log_dirs"),
    ("log-dir-relative", {"log_dirs": ["data/kafka"]}, "kafka:log_dirs:0"),
    ("log-dir-duplicate", {"log_dirs": ["/data/kafka", "/data/kafka/"]}, "kafka:log_dirs:1"),
    ("log-dir-with-comma", {"log_dirs": ["/data/a,/data/b"]}, "kafka:log_dirs:0"),
    ("broker-log-dirs-as-string", {"brokers:kafka1:log_dirs": "/data/kafka"}, "kafka:brokers:kafka1:log_dirs"),
    ("broker-log-dir-relative", {"brokers:kafka2:log_dirs": ["/data/a", "b"]}, "kafka:brokers:kafka2:log_dirs:1"),
    ("broker-log-dir-duplicate", {"brokers:kafka1:log_dirs": ["/d/k", "/d/k/"]}, "kafka:brokers:kafka1:log_dirs:1"),
    ("heap-with-unit", {"heap_mb": "4g"}, "kafka:heap_mb"),
    ("heap-too-small", {"heap_mb": 100}, "kafka:heap_mb"),
    ("heap-above-ram", {"heap_mb": 65536}, "kafka:heap_mb"),
    ("expected-partitions-quoted", {"expected_partitions": "1000"}, "kafka:expected_partitions"),
    ("expected-partitions-zero", {"expected_partitions": 0}, "kafka:expected_partitions"),
    ("expected-partitions-above-nr-open", {"expected_partitions": 10_000_000}, "kafka:expected_partitions"),
    ("expected-partitions-float", {"expected_partitions": 1e3}, "kafka:expected_partitions"),
    ("broker-drain-quoted", {"brokers:kafka1:drain": "true"}, "kafka:brokers:kafka1:drain"),
    ("broker-drain-number", {"brokers:kafka1:drain": 1}, "kafka:brokers:kafka1:drain"),
    ("every-broker-drains", {"brokers:kafka1:drain": True, "brokers:kafka2:drain": True,
                             "brokers:kafka3:drain": True}, "kafka:brokers:kafka1:drain"),
    ("drain-below-replication-factor", {"brokers:kafka3:drain": True}, "kafka:brokers:kafka3:drain"),
    ("rebalance-as-list", {"rebalance": [5]}, "kafka:rebalance"),
    ("rebalance-typo", {"rebalance:on_scale_out": True}, "kafka:rebalance:on_scale_out"),
    ("rebalance-on-scale-quoted", {"rebalance:on_scale": "false"}, "kafka:rebalance:on_scale"),
    ("rebalance-cap-zero", {"rebalance:max_moves_per_broker": 0}, "kafka:rebalance:max_moves_per_broker"),
    ("rebalance-cap-huge", {"rebalance:max_moves_per_broker": 5000}, "kafka:rebalance:max_moves_per_broker"),
    ("rebalance-cap-quoted", {"rebalance:max_moves_per_broker": "5"}, "kafka:rebalance:max_moves_per_broker"),
    ("rebalance-throttle-with-unit", {"rebalance:throttle_bytes": "50MB"}, "kafka:rebalance:throttle_bytes"),
    ("rebalance-throttle-tiny", {"rebalance:throttle_bytes": 10}, "kafka:rebalance:throttle_bytes"),
    ("jmx-exporter-as-boolean", {"jmx_exporter": True}, "kafka:jmx_exporter"),
    ("jmx-exporter-enabled-quoted", {"jmx_exporter:enabled": "yes"}, "kafka:jmx_exporter:enabled"),
    ("jmx-exporter-port-clash", {"jmx_exporter:port": 9093}, "kafka:jmx_exporter:port"),
    ("jmx-exporter-source-without-scheme", {"jmx_exporter:source": "jmx.jar",
                                            "jmx_exporter:source_hash": "sha256=" + "a" * 64},
     "kafka:jmx_exporter:source"),
    ("config-as-list", {"config": ["num.io.threads=8"]}, "kafka:config"),
    ("config-owned-key", {"config": {"listeners": "SASL_SSL://:9093"}}, "kafka:config:listeners"),
    ("config-owned-prefix", {"config": {"ssl.keystore.location": "/tmp/ks"}}, "kafka:config:ssl.keystore.location"),
    ("config-value-list", {"config": {"num.io.threads": [8]}}, "kafka:config:num.io.threads"),
    ("config-secret", {"config": {"my.plugin.password": "x"}}, "kafka:config:my.plugin.password"),
    ("config-replication-above-brokers", {"config": {"offsets.topic.replication.factor": 5}},
     "kafka:config:offsets.topic.replication.factor"),
    ("config-transaction-min-isr-above-rf", {"config": {"transaction.state.log.min.isr": 4,
                                                        "transaction.state.log.replication.factor": 3}},
     "kafka:config:transaction.state.log.min.isr"),
    ("replication-factor-quoted", {"default_replication_factor": "3"}, "kafka:default_replication_factor"),
    ("replication-factor-above-brokers", {"default_replication_factor": 5}, "kafka:default_replication_factor"),
    ("min-isr-equals-rf", {"min_insync_replicas": 3}, "kafka:min_insync_replicas"),
    ("min-isr-zero", {"min_insync_replicas": 0}, "kafka:min_insync_replicas"),
    ("allow-min-isr-equal-rf-quoted", {"allow_min_isr_equal_rf": "yes"}, "kafka:allow_min_isr_equal_rf"),
    ("users-as-list", {"users": ["app"]}, "kafka:users"),
    ("user-as-string", {"users:app": "app-Secret-6"}, "kafka:users:app"),
    ("user-password-null", {"users:app:password": None}, "kafka:users:app:password"),
    ("user-is-the-super-user", {"users:admin": {"password": "x-Secret-7"}}, "kafka:users:admin"),
    ("user-name-with-space", {"users:my app": {"password": "x-Secret-7"}}, "kafka:users:my app"),
    ("user-key-typo", {"users:app:pasword": "x"}, "kafka:users:app:pasword"),
    ("topics-as-list", {"topics": ["orders"]}, "kafka:topics"),
    ("topic-internal-name", {"topics:__consumer_offsets": {}}, "kafka:topics:__consumer_offsets"),
    ("topic-name-with-space", {"topics:my orders": {}}, "kafka:topics:my orders"),
    ("topic-names-collide", {"topics:orders.v1": {}, "topics:orders_v1": {}}, "kafka:topics:orders_v1"),
    ("topic-partitions-quoted", {"topics:orders:partitions": "6"}, "kafka:topics:orders:partitions"),
    ("topic-partitions-zero", {"topics:orders:partitions": 0}, "kafka:topics:orders:partitions"),
    ("topic-replication-above-brokers", {"topics:orders:replication_factor": 4},
     "kafka:topics:orders:replication_factor"),
    ("topic-key-typo", {"topics:orders:replicas": 3}, "kafka:topics:orders:replicas"),
    ("topic-config-as-list", {"topics:orders:config": ["retention.ms=1"]}, "kafka:topics:orders:config"),
    ("topic-config-empty-string", {"topics:orders:config": ""}, "kafka:topics:orders:config"),
    ("topic-config-name-typo", {"topics:orders:config": {"retention.msec": 1}},
     "kafka:topics:orders:config:retention.msec"),
    ("topic-config-broker-name", {"topics:orders:config": {"log.retention.hours": 24}},
     "kafka:topics:orders:config:log.retention.hours"),
    ("topic-config-long-as-float", {"topics:orders:config": {"retention.ms": 8.64e7}},
     "kafka:topics:orders:config:retention.ms"),
    ("topic-config-below-minimum", {"topics:orders:config": {"retention.ms": -2}},
     "kafka:topics:orders:config:retention.ms"),
    ("topic-config-invalid-value", {"topics:orders:config": {"cleanup.policy": "compacted"}},
     "kafka:topics:orders:config:cleanup.policy"),
    ("topic-config-wrong-case", {"topics:orders:config": {"compression.type": "ZSTD"}},
     "kafka:topics:orders:config:compression.type"),
    ("topic-config-boolean-quoted-yes", {"topics:orders:config": {"unclean.leader.election.enable": "yes"}},
     "kafka:topics:orders:config:unclean.leader.election.enable"),
    ("topic-config-negative-size", {"topics:orders:config": {"max.message.bytes": -1}},
     "kafka:topics:orders:config:max.message.bytes"),
    ("topic-config-ratio-above-one", {"topics:orders:config": {"min.cleanable.dirty.ratio": 1.5}},
     "kafka:topics:orders:config:min.cleanable.dirty.ratio"),
    ("topic-config-int-overflow", {"topics:orders:config": {"segment.bytes": 4 * GIB}},
     "kafka:topics:orders:config:segment.bytes"),
    ("topic-config-compaction-lags-inverted", {"topics:orders:config": {"min.compaction.lag.ms": 600000,
                                                                        "max.compaction.lag.ms": 60000}},
     "kafka:topics:orders:config:min.compaction.lag.ms"),
    ("topic-config-refused-in-zookeeper-mode", {"topics:orders:config": {"remote.log.copy.disable": True}},
     "kafka:topics:orders:config:remote.log.copy.disable"),
    ("topic-config-formula-owned", {"topics:orders:config": {"leader.replication.throttled.replicas": "*"}},
     "kafka:topics:orders:config:leader.replication.throttled.replicas"),
    ("topic-config-value-mapping", {"topics:orders:config": {"retention.ms": {"days": 1}}},
     "kafka:topics:orders:config:retention.ms"),
    ("topic-min-isr-quoted-above-rf", {"topics:orders:config": {"min.insync.replicas": "4"}},
     "kafka:topics:orders:config:min.insync.replicas"),
    ("topic-min-isr-above-rf", {"topics:orders:config": {"min.insync.replicas": 4}},
     "kafka:topics:orders:config:min.insync.replicas"),
    ("acls-as-mapping", {"acls": {"app": {"role": "producer"}}}, "kafka:acls"),
    ("acl-as-string", {"acls": ["User:app READ orders"]}, "kafka:acls:0"),
    ("acl-operation-unknown", {"acls": [{"resource_type": "TOPIC", "resource_name": "orders",
                                         "principal": "User:app", "operation": "READ_WRITE"}]},
     "kafka:acls:0:operation"),
    ("acl-resource-type-plural", {"acls": [{"resource_type": "TOPICS", "resource_name": "orders",
                                            "principal": "User:app", "operation": "READ"}]},
     "kafka:acls:0:resource_type"),
    ("acl-permission-unknown", {"acls": [{"resource_type": "TOPIC", "resource_name": "orders",
                                          "principal": "User:app", "operation": "READ", "permission": "GRANT"}]},
     "kafka:acls:0:permission"),
    ("acl-principal-without-type", {"acls": [{"resource_type": "TOPIC", "resource_name": "orders",
                                              "principal": "app", "operation": "READ"}]},
     "kafka:acls:0:principal"),
    ("acl-principal-group", {"acls": [{"resource_type": "TOPIC", "resource_name": "orders",
                                       "principal": "Group:ops", "operation": "READ"}]},
     "kafka:acls:0:principal"),
    ("acl-host-name", {"acls": [{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:app",
                                 "operation": "READ", "host": "client1.example.com"}]},
     "kafka:acls:0:host"),
    ("acl-operation-invalid-on-group", {"acls": [{"resource_type": "GROUP", "resource_name": "billing",
                                                  "principal": "User:app", "operation": "WRITE"}]},
     "kafka:acls:0:operation"),
    ("acl-resource-name-with-slash", {"acls": [{"resource_type": "TOPIC", "resource_name": "a/b",
                                                "principal": "User:app", "operation": "READ"}]},
     "kafka:acls:0:resource_name"),
    ("acl-field-typo", {"acls": [KAFKA["acls"][0], {"resource_type": "TOPIC", "resource_name": "orders",
                                                    "princpal": "User:app", "operation": "READ"}]},
     "kafka:acls:1:princpal"),
    ("acl-cluster-name", {"acls": [{"resource_type": "CLUSTER", "resource_name": "lab",
                                    "principal": "User:app", "operation": "DESCRIBE"}]},
     "kafka:acls:0:resource_name"),
    ("acl-filter-only-pattern", {"acls": [{"resource_type": "TOPIC", "resource_name": "orders", "pattern_type": "MATCH",
                                           "principal": "User:app", "operation": "READ"}]},
     "kafka:acls:0:pattern_type"),
    ("acl-role-unknown", {"acls": [{"role": "producr", "principal": "User:app", "topic": "orders"}]},
     "kafka:acls:0:role"),
    ("acl-role-without-topic", {"acls": [{"role": "consumer", "principal": "User:app"}]}, "kafka:acls:0:topic"),
    ("acl-role-topic-number", {"acls": [{"role": "consumer", "principal": "User:app", "topic": 123}]},
     "kafka:acls:0:topic"),
    ("acl-role-principal-list", {"acls": [{"role": "consumer", "principal": ["User:app"], "topic": "orders"}]},
     "kafka:acls:0:principal"),
]


# --- kafka: in KRaft mode ----------------------------------------------------------------------

KRAFT = {
    **{k: v for k, v in copy.deepcopy(KAFKA).items() if k not in ("version", "source")},
    "version": "4.3.1",
    "mode": "kraft",
    "source": "file:///root/.cache/kafkasalt/artifacts/kafka_2.13-4.3.1.tgz",
    "controllers": {
        "ctl1": {"node_id": 101, "address": "127.0.0.21"},
        "ctl2": {"node_id": 102, "address": "127.0.0.22"},
        "ctl3": {"node_id": 103, "address": "127.0.0.23", "port": 9096},
    },
}

KRAFT_CASES = [
    ("mode-typo", {"mode": "kraf"}, "kafka:mode"),
    ("mode-as-list", {"mode": ["kraft"]}, "kafka:mode"),
    ("mode-as-number", {"mode": 4}, "kafka:mode"),
    ("mode-yaml-yes", {"mode": True}, "kafka:mode"),
    ("mode-zookeeper-on-4", {"mode": "zookeeper"}, "kafka:mode"),
    ("mode-unstated-on-4", {"mode": DELETE}, "kafka:version"),
    ("kraft-on-3-8", {"version": "3.8.1"}, "kafka:mode"),
    ("version-5", {"version": "5.0.0"}, "kafka:version"),
    ("controllers-as-list", {"controllers": ["ctl1", "ctl2", "ctl3"]}, "kafka:controllers"),
    ("controllers-as-string", {"controllers": "ctl1,ctl2,ctl3"}, "kafka:controllers"),
    ("controllers-null-means-none", {"controllers": {}}, "kafka:controllers"),
    ("controllers-number", {"controllers": 3}, "kafka:controllers"),
    ("controllers-even", {"controllers:ctl4": {"node_id": 104, "address": "127.0.0.24"}}, "kafka:controllers"),
    ("controllers-too-many", {"controllers": {f"c{i}": {"node_id": 200 + i, "address": f"127.0.1.{i}"}
                                              for i in range(11)}}, "kafka:controllers"),
    ("controller-null", {"controllers:ctl1": None}, "kafka:controllers:ctl1"),
    ("controller-as-list", {"controllers:ctl1": [101, "127.0.0.21"]}, "kafka:controllers:ctl1"),
    ("controller-as-string", {"controllers:ctl1": "127.0.0.21"}, "kafka:controllers:ctl1"),
    ("controller-key-typo", {"controllers:ctl1:nodeid": 5}, "kafka:controllers:ctl1:nodeid"),
    ("node-id-missing", {"controllers:ctl1:node_id": DELETE}, "kafka:controllers:ctl1:node_id"),
    ("node-id-quoted", {"controllers:ctl1:node_id": "101"}, "kafka:controllers:ctl1:node_id"),
    ("node-id-negative", {"controllers:ctl1:node_id": -1}, "kafka:controllers:ctl1:node_id"),
    ("node-id-yaml-yes", {"controllers:ctl1:node_id": True}, "kafka:controllers:ctl1:node_id"),
    ("node-id-float", {"controllers:ctl1:node_id": 101.0}, "kafka:controllers:ctl1:node_id"),
    ("node-id-list", {"controllers:ctl1:node_id": [101]}, "kafka:controllers:ctl1:node_id"),
    ("node-id-duplicate", {"controllers:ctl2:node_id": 101}, "kafka:controllers:ctl2:node_id"),
    ("node-id-is-a-broker-id", {"controllers:ctl1:node_id": 2}, "kafka:controllers:ctl1:node_id"),
    ("combined-node-other-id", {"controllers:kafka1": {"node_id": 7}, "controllers:ctl3": DELETE,
                                "controllers:ctl2": DELETE}, "kafka:controllers:kafka1:node_id"),
    ("combined-node-other-address", {"controllers": {"kafka1": {"node_id": 1, "address": "127.0.0.99"}}},
     "kafka:controllers:kafka1:address"),
    ("controller-address-missing", {"controllers:ctl1:address": DELETE}, "kafka:controllers:ctl1:address"),
    ("controller-address-empty", {"controllers:ctl1:address": ""}, "kafka:controllers:ctl1:address"),
    ("controller-address-wildcard", {"controllers:ctl1:address": "0.0.0.0"}, "kafka:controllers:ctl1:address"),
    ("controller-address-bad-ip", {"controllers:ctl1:address": "10.0.0.256"}, "kafka:controllers:ctl1:address"),
    ("controller-address-number", {"controllers:ctl1:address": 10}, "kafka:controllers:ctl1:address"),
    ("controller-address-list", {"controllers:ctl1:address": ["127.0.0.21"]}, "kafka:controllers:ctl1:address"),
    ("controller-port-quoted", {"controllers:ctl1:port": "9095"}, "kafka:controllers:ctl1:port"),
    ("controller-port-privileged", {"controllers:ctl1:port": 95}, "kafka:controllers:ctl1:port"),
    ("controller-port-null", {"controllers:ctl1:port": None}, "kafka:controllers:ctl1:port"),
    ("controller-port-is-client-listener", {"controllers:ctl1:port": 9093}, "kafka:controllers:ctl1:port"),
    ("controller-port-is-broker-listener", {"controllers:ctl2:port": 9094}, "kafka:controllers:ctl2:port"),
    ("controller-port-is-jmx", {"controllers:ctl1:port": 9101}, "kafka:controllers:ctl1:port"),
    ("controller-endpoint-duplicate", {"controllers:ctl2:address": "127.0.0.21"}, "kafka:controllers:ctl2:port"),
    ("controller-port-default-clash", {"controller_port": 9094}, "kafka:controllers:ctl1:port"),
    ("controller-port-default-quoted", {"controller_port": "9095"}, "kafka:controller_port"),
    ("listener-named-controller", {"listeners:CONTROLLER": {"port": 9097, "protocol": "SASL_SSL"}},
     "kafka:listeners:CONTROLLER"),
    ("zookeeper-chroot-in-kraft", {"zookeeper_chroot": "/kafka/lab"}, "kafka:zookeeper_chroot"),
    ("zookeeper-user-in-kraft", {"zookeeper_user": "kafka"}, "kafka:zookeeper_user"),
    ("config-zookeeper-key", {"config": {"zookeeper.session.timeout.ms": 6000}},
     "kafka:config:zookeeper.session.timeout.ms"),
    ("config-removed-in-4", {"config": {"inter.broker.protocol.version": "3.9"}},
     "kafka:config:inter.broker.protocol.version"),
    ("config-log-message-format", {"config": {"log.message.format.version": "2.8"}},
     "kafka:config:log.message.format.version"),
    ("config-owned-quorum", {"config": {"controller.quorum.bootstrap.servers": "x:1"}},
     "kafka:config:controller.quorum.bootstrap.servers"),
    ("config-owned-process-roles", {"config": {"process.roles": "broker"}}, "kafka:config:process.roles"),
    ("broker-config-removed-in-4", {"brokers:kafka1:config": {"reserved.broker.max.id": 5000}},
     "kafka:brokers:kafka1:config:reserved.broker.max.id"),
    ("super-password-with-quote", {"super_user:password": 'admin"Secret-4'}, "kafka:super_user:password"),
    ("inter-broker-password-with-quote", {"inter_broker_user:password": 'broker"Secret-5'},
     "kafka:inter_broker_user:password"),
    # kafka-storage.sh format --add-scram splits on ',': "a,iterations=5000" would set iterations.
    ("super-password-with-comma", {"super_user:password": "admin,iterations=5000"}, "kafka:super_user:password"),
    ("inter-broker-password-with-comma", {"inter_broker_user:password": "broker,Secret-5"},
     "kafka:inter_broker_user:password"),
]


@pytest.mark.parametrize("changes, key", [case[1:] for case in KRAFT_CASES], ids=[case[0] for case in KRAFT_CASES])
def test_kraft_pillar_mistake_is_refused_with_its_key(changes, key):
    pillar = mutated(KRAFT, changes)
    assert key in refused_keys(lambda: kafka_model.ClusterModel.from_pillar(pillar, sizing_by_minion=SIZING))


def test_the_kraft_base_pillar_is_valid():
    cluster = kafka_model.ClusterModel.from_pillar(copy.deepcopy(KRAFT), sizing_by_minion=SIZING)
    assert cluster.kraft and [c.node_id for c in cluster.controllers] == [101, 102, 103]
    assert cluster.quorum_bootstrap_servers() == "127.0.0.21:9095,127.0.0.22:9095,127.0.0.23:9096"


def test_controllers_in_zookeeper_mode_are_refused(ensemble):
    pillar = mutated(KAFKA, {"controllers": copy.deepcopy(KRAFT["controllers"])})
    assert "kafka:controllers" in refused_keys(
        lambda: kafka_model.ClusterModel.from_pillar(pillar, zookeeper_model=ensemble))


@pytest.fixture(scope="module")
def ensemble():
    return zk_model.EnsembleModel.from_pillar(copy.deepcopy(ZOOKEEPER))


@pytest.mark.parametrize("changes, key", [case[1:] for case in KAFKA_CASES], ids=[case[0] for case in KAFKA_CASES])
def test_kafka_pillar_mistake_is_refused_with_its_key(ensemble, changes, key):
    pillar = mutated(KAFKA, changes)
    assert key in refused_keys(lambda: kafka_model.ClusterModel.from_pillar(pillar, zookeeper_model=ensemble,
                                                                            sizing_by_minion=SIZING))


def test_the_base_pillars_are_valid(ensemble):
    """Each case above is the only mistake in its pillar."""
    cluster = kafka_model.ClusterModel.from_pillar(copy.deepcopy(KAFKA), zookeeper_model=ensemble,
                                                   sizing_by_minion=SIZING)
    assert [b.minion_id for b in cluster.brokers] == ["kafka1", "kafka2", "kafka3"]
    assert ensemble.minion_ids == ["kafka1", "kafka2", "kafka3"]


def test_dns_names_the_pki_reads_are_accepted(ensemble):
    """The validator and the kafka_pki ext_pillar agree on kafka:brokers:<minion>:dns_names."""
    pillar = mutated(KAFKA, {"brokers:kafka1:dns_names": ["kafka1.example.com", "*.brokers.example.com"]})
    cluster = kafka_model.ClusterModel.from_pillar(pillar, zookeeper_model=ensemble)
    assert cluster.broker("kafka1").dns_names == ("kafka1.example.com", "*.brokers.example.com")


# --- kafka_host: ------------------------------------------------------------------------------

HOST_CASES = [
    ("section-as-string", lambda pillar: "systemd", "kafka_host"),
    ("section-as-list", lambda pillar: ["systemd"], "kafka_host"),
    ("top-level-typo", {"nofle": 65536}, "kafka_host:nofle"),
    ("service-manager-typo", {"service_manager": "systemctl"}, "kafka_host:service_manager"),
    ("service-manager-capitalised", {"service_manager": "Systemd"}, "kafka_host:service_manager"),
    ("service-manager-yaml-yes", {"service_manager": True}, "kafka_host:service_manager"),
    ("service-manager-as-list", {"service_manager": ["systemd"]}, "kafka_host:service_manager"),
    ("nofile-unlimited", {"nofile": "unlimited"}, "kafka_host:nofile"),
    ("nofile-below-floor", {"nofile": 512}, "kafka_host:nofile"),
    ("nofile-quoted", {"nofile": "65536"}, "kafka_host:nofile"),
    ("nofile-negative", {"nofile": -1}, "kafka_host:nofile"),
    ("nofile-float", {"nofile": 65536.0}, "kafka_host:nofile"),
    ("nofile-above-nr-open", {"nofile": 2_000_000}, "kafka_host:nofile"),
    ("kernel-tuning-as-string", {"kernel_tuning": "auto"}, "kafka_host:kernel_tuning"),
    ("kernel-tuning-key-typo", {"kernel_tuning:applylive": False}, "kafka_host:kernel_tuning:applylive"),
    ("sysctl-at-the-wrong-level", {"kernel_tuning:vm.swappiness": 1}, "kafka_host:kernel_tuning:vm.swappiness"),
    ("apply-live-quoted-false", {"kernel_tuning:apply_live": "false"}, "kafka_host:kernel_tuning:apply_live"),
    ("apply-live-zero", {"kernel_tuning:apply_live": 0}, "kafka_host:kernel_tuning:apply_live"),
    ("sysctl-as-list", {"kernel_tuning:sysctl": ["vm.swappiness=1"]}, "kafka_host:kernel_tuning:sysctl"),
    ("sysctl-as-string", {"kernel_tuning:sysctl": "vm.swappiness=1"}, "kafka_host:kernel_tuning:sysctl"),
    ("sysctl-name-without-prefix", {"kernel_tuning:sysctl": {"swappiness": 1}},
     "kafka_host:kernel_tuning:sysctl:swappiness"),
    ("sysctl-name-with-space", {"kernel_tuning:sysctl": {"vm swappiness": 1}},
     "kafka_host:kernel_tuning:sysctl:vm swappiness"),
    ("sysctl-name-with-slashes", {"kernel_tuning:sysctl": {"vm/swappiness": 1}},
     "kafka_host:kernel_tuning:sysctl:vm/swappiness"),
    ("sysctl-integer-quoted", {"kernel_tuning:sysctl": {"vm.swappiness": "1"}},
     "kafka_host:kernel_tuning:sysctl:vm.swappiness"),
    ("sysctl-negative", {"kernel_tuning:sysctl": {"vm.swappiness": -1}},
     "kafka_host:kernel_tuning:sysctl:vm.swappiness"),
    ("sysctl-float", {"kernel_tuning:sysctl": {"net.core.rmem_max": 1.5e6}},
     "kafka_host:kernel_tuning:sysctl:net.core.rmem_max"),
    ("sysctl-value-as-list", {"kernel_tuning:sysctl": {"net.ipv4.tcp_rmem": [4096, 65536, 2097152]}},
     "kafka_host:kernel_tuning:sysctl:net.ipv4.tcp_rmem"),
    ("sysctl-value-empty", {"kernel_tuning:sysctl": {"kernel.core_pattern": ""}},
     "kafka_host:kernel_tuning:sysctl:kernel.core_pattern"),
    ("sysctl-value-two-lines", {"kernel_tuning:sysctl": {"net.ipv4.tcp_rmem": "4096 65536\n2097152"}},
     "kafka_host:kernel_tuning:sysctl:net.ipv4.tcp_rmem"),
    ("sysctl-value-yaml-yes", {"kernel_tuning:sysctl": {"net.ipv4.tcp_window_scaling": True}},
     "kafka_host:kernel_tuning:sysctl:net.ipv4.tcp_window_scaling"),
]


@pytest.mark.parametrize("changes, key", [case[1:] for case in HOST_CASES], ids=[case[0] for case in HOST_CASES])
def test_kafka_host_mistake_is_refused_with_its_key(changes, key):
    from kafkasalt.ops import host

    pillar = {"kafka_host": mutated(KAFKA_HOST, changes)}
    assert key in refused_keys(lambda: host.HostSettings.from_pillar(pillar))


def test_a_valid_kafka_host_section_reads_as_the_modules_use_it():
    from kafkasalt.ops import host

    settings = host.HostSettings.from_pillar({"kafka_host": mutated(KAFKA_HOST, {
        "kernel_tuning:sysctl": {"vm.swappiness": 10, "net.ipv4.tcp_rmem": "4096 65536 4194304",
                                 "vm.dirty_ratio": None}})})
    assert (settings.service_manager, settings.nofile, settings.apply_live) == ("supervisord", 16384, False)
    assert settings.sizing_overrides() == {"vm.swappiness": 10, "net.ipv4.tcp_rmem": "4096 65536 4194304",
                                           "vm.dirty_ratio": None, "nofile": 16384}
    assert host.HostSettings.from_pillar({}) == host.HostSettings.from_pillar({"kafka_host": None})


# --- the runners' plan, as salt-run calls it ----------------------------------------------------

_RUNNERS = {}


def _runner(name):
    if name not in _RUNNERS:
        path = os.path.join(REPO, "_runners", f"{name}.py")
        spec = importlib.util.spec_from_file_location(f"{name}_runner_bad_pillars", path)
        _RUNNERS[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_RUNNERS[name])
    return _RUNNERS[name]


def _minion_pillars():
    return {minion: {"zookeeper": copy.deepcopy(ZOOKEEPER), "kafka": copy.deepcopy(KAFKA),
                     "kafka_host": copy.deepcopy(KAFKA_HOST)} for minion in ("kafka1", "kafka2", "kafka3")}


@pytest.fixture()
def salt_master(monkeypatch):
    """A master with three accepted minions: pillar compiled per minion, grains from its cache,
    and minions that do not answer (no host is bare or running)."""

    def install(module, pillars, grains=None):
        module.__opts__ = {"id": "master"}
        module.__context__ = {}
        module.__salt__ = {
            "pillar.show_pillar": lambda minion: copy.deepcopy(pillars[minion]),
            "cache.grains": lambda tgt, tgt_type: {m: {"kafka_hardware": facts} for m, facts in (grains or {}).items()},
        }
        monkeypatch.setattr(module.saltglue, "targeted_minions", lambda opts, tgt, tgt_type: sorted(pillars))
        monkeypatch.setattr(module.saltglue, "cmd", lambda *args, **kwargs: {})
        return module

    return install


def _set(minion, path, value):
    def change(pillars):
        node = pillars[minion]
        *parents, last = path.split(":")
        for part in parents:
            node = node[part]
        node[last] = value
    return change


def _everywhere(path, value):
    def change(pillars):
        for minion in pillars:
            _set(minion, path, value)(pillars)
    return change


RUNNER_CASES = [
    ("zookeeper_ensemble", "zookeeper-as-list-on-one-minion", _set("kafka2", "zookeeper", ["kafka1", "kafka2"]),
     "zookeeper"),
    ("zookeeper_ensemble", "zookeeper-as-string-everywhere", _everywhere("zookeeper", "kafka1,kafka2,kafka3"),
     "zookeeper"),
    ("zookeeper_ensemble", "zookeeper-yaml-yes", _set("kafka1", "zookeeper", True), "zookeeper"),
    ("zookeeper_ensemble", "members-as-list", _everywhere("zookeeper:members", ["kafka1", "kafka2", "kafka3"]),
     "zookeeper:members"),
    ("zookeeper_ensemble", "heap-above-a-members-ram", _everywhere("zookeeper:heap_mb", 8192), "zookeeper:heap_mb"),
    ("zookeeper_ensemble", "kafka-host-typo-on-one-minion", _set("kafka3", "kafka_host:service_manager", "systemctl"),
     "kafka_host:service_manager"),
    ("zookeeper_ensemble", "kafka-host-as-string", _set("kafka2", "kafka_host", "supervisord"), "kafka_host"),
    ("zookeeper_ensemble", "nofile-unlimited", _everywhere("kafka_host:nofile", "unlimited"), "kafka_host:nofile"),
    ("kafka", "kafka-as-list-on-one-minion", _set("kafka2", "kafka", ["lab"]), "kafka"),
    ("kafka", "zookeeper-as-string", _set("kafka1", "zookeeper", "127.0.0.11:2181"), "zookeeper"),
    ("kafka", "inter-broker-listener-as-list", _everywhere("kafka:inter_broker_listener", ["BROKER"]),
     "kafka:inter_broker_listener"),
    ("kafka", "source-omitted", _everywhere("kafka:source", None), "kafka:source"),
    ("kafka", "acl-host-name", _everywhere("kafka:acls", [{"role": "producer", "principal": "User:app",
                                                         "topic": "orders"},
                                                        {"resource_type": "TOPIC", "resource_name": "orders",
                                                         "principal": "User:app", "operation": "READ",
                                                         "host": "client1"}]),
     "kafka:acls:1:host"),
    ("kafka", "apply-live-quoted-on-one-minion", _set("kafka1", "kafka_host:kernel_tuning:apply_live", "false"),
     "kafka_host:kernel_tuning:apply_live"),
    ("kafka", "sysctl-as-list", _set("kafka3", "kafka_host:kernel_tuning", {"sysctl": ["vm.swappiness=1"]}),
     "kafka_host:kernel_tuning:sysctl"),
    ("kafka", "zookeeper-heap-above-ram", _everywhere("zookeeper:heap_mb", 8192), "zookeeper:heap_mb"),
]


@pytest.mark.parametrize("runner, changes, key", [(c[0], c[2], c[3]) for c in RUNNER_CASES],
                         ids=[f"{c[0]}-{c[1]}" for c in RUNNER_CASES])
def test_runner_plan_fails_naming_the_key_instead_of_raising(salt_master, runner, changes, key):
    pillars = _minion_pillars()
    changes(pillars)
    module = salt_master(_runner(runner), pillars, grains={"kafka2": {"mem_total_bytes": 4 * GIB}})
    result = module.plan()
    assert result["result"] is False, result
    assert f"pillar key '{key}'" in result["Error"], result["Error"]
    assert not [p for p in PASSWORDS if p in result["Error"]], "a message shows a password"
    assert module.__context__["retcode"] == 1


def test_runner_plans_pass_the_good_pillar(salt_master):
    zookeeper = salt_master(_runner("zookeeper_ensemble"), _minion_pillars()).plan()
    assert zookeeper["result"] is True and zookeeper["members"] == ["kafka1", "kafka2", "kafka3"], zookeeper
    kafka = salt_master(_runner("kafka"), _minion_pillars()).plan()
    assert kafka["result"] is True and kafka["brokers"] == ["kafka1", "kafka2", "kafka3"], kafka


def test_runner_plan_reports_the_cluster_and_the_hosts_problems_together(salt_master):
    pillars = _minion_pillars()
    _everywhere("kafka:heap_mb", "4g")(pillars)
    _set("kafka2", "kafka_host:nofile", 512)(pillars)
    _set("kafka3", "kafka_host:nofile", 512)(pillars)
    result = salt_master(_runner("kafka"), pillars).plan()
    assert "pillar key 'kafka:heap_mb'" in result["Error"]
    assert "pillar key 'kafka_host:nofile'" in result["Error"] and "(on kafka2, kafka3)" in result["Error"]


def _kraft_pillars(changes=None):
    pillars = {minion: {"kafka": mutated(KRAFT, changes or {}), "kafka_host": copy.deepcopy(KAFKA_HOST)}
               for minion in ("kafka1", "kafka2", "kafka3", "ctl1", "ctl2", "ctl3")}
    return pillars


@pytest.mark.parametrize("runner_function", ["plan", "rolling_restart", "apply_config", "rebalance", "scale"])
def test_runners_refuse_kraft_until_the_deploy_exists(salt_master, runner_function):
    """Never a false green: a valid KRaft pillar is refused by name, not deployed as ZooKeeper mode."""
    module = salt_master(_runner("kafka"), _kraft_pillars())
    result = getattr(module, runner_function)(test=True) if runner_function != "plan" else module.plan()
    assert result["result"] is False, result
    assert "pillar key 'kafka:mode'" in result["Error"] and "not available yet" in result["Error"], result
    assert module.__context__["retcode"] == 1


def test_the_kraft_refusal_comes_with_every_other_problem(salt_master):
    result = salt_master(_runner("kafka"), _kraft_pillars({"controllers:ctl1:node_id": 2})).plan()
    assert "pillar key 'kafka:mode'" in result["Error"]
    assert "pillar key 'kafka:controllers:ctl1:node_id'" in result["Error"]
    assert not [p for p in PASSWORDS if p in result["Error"]]


def test_a_zookeeper_pillar_is_not_refused_by_the_kraft_guard():
    from kafkasalt.kafka import kraft

    assert kraft.deploy_refusal(copy.deepcopy(KAFKA)) is None
    assert kraft.deploy_refusal({**KAFKA, "mode": "zookeeper"}) is None
    assert kraft.deploy_refusal(copy.deepcopy(KRAFT)).key == "kafka:mode"


# --- the kafka_pki ext_pillar -------------------------------------------------------------------

PKI_CASES = [
    ("cluster-name-path", {"cluster_name": "../../etc"}, "kafka:cluster_name", "kafka_tls"),
    ("cluster-name-empty", {"cluster_name": ""}, "kafka:cluster_name", "kafka_tls"),
    ("cluster-name-newline-with-zookeeper-tls", {"cluster_name": "lab\n"}, "kafka:cluster_name", "zookeeper_tls"),
    ("dns-names-as-string", {"brokers:kafka1:dns_names": "kafka1.example.com"}, "kafka:brokers:kafka1:dns_names",
     "kafka_tls"),
    ("dns-name-invalid", {"brokers:kafka1:dns_names": ["kafka1.example.com", "-bad.example.com"]},
     "kafka:brokers:kafka1:dns_names:1", "kafka_tls"),
]


@pytest.mark.parametrize("changes, key, entry", [c[1:] for c in PKI_CASES], ids=[c[0] for c in PKI_CASES])
def test_pki_ext_pillar_returns_an_error_naming_the_key(tmp_path, changes, key, entry):
    path = os.path.join(REPO, "_pillar", "kafka_pki.py")
    spec = importlib.util.spec_from_file_location("kafka_pki_bad_pillars", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pki_dir = tmp_path / "master" / "pki"
    module.__opts__ = {"pki_dir": str(pki_dir)}
    zookeeper = mutated(ZOOKEEPER, {"tls": {"enabled": True}})
    result = module.ext_pillar("kafka1", {"kafka": mutated(KAFKA, changes), "zookeeper": zookeeper})
    assert f"pillar key '{key}'" in result[entry]["error"], result
    if key == "kafka:cluster_name":
        assert list(tmp_path.rglob("*")) == [], "nothing may be created for a bad cluster name"


# --- the topic-config table -----------------------------------------------------------------------

def test_without_the_data_file_topic_configs_keep_the_generic_checks(monkeypatch, tmp_path, ensemble):
    """A formula sync copies Python files only: the table may be missing, never a traceback."""
    from kafkasalt.kafka import topic_configs

    assert topic_configs.table(str(tmp_path / "missing.yml")) is None
    monkeypatch.setattr(topic_configs, "table", lambda path=None: None)
    good = mutated(KAFKA, {"topics:orders:config": {"retention.ms": "86400000"}})
    assert kafka_model.ClusterModel.from_pillar(good, zookeeper_model=ensemble).topics[0].name == "orders"
    bad = mutated(KAFKA, {"topics:orders:config": {"min.insync.replicas": "4"}})
    assert refused_keys(lambda: kafka_model.ClusterModel.from_pillar(bad, zookeeper_model=ensemble)) == [
        "kafka:topics:orders:config:min.insync.replicas"]


def test_the_topic_config_table_is_kafkas_3_9_list():
    from kafkasalt.kafka import topic_configs

    table = topic_configs.table()
    assert len(table) == 36
    assert table["cleanup.policy"]["values"] == ["compact", "delete"]
    assert table["min.insync.replicas"] == {"type": "int", "min": 1, "broker": ["min.insync.replicas"]}
    good = {"retention.ms": "604800000", "cleanup.policy": "compact,delete", "compression.type": "zstd",
            "unclean.leader.election.enable": False, "min.cleanable.dirty.ratio": 0.5,
            "compression.gzip.level": -1, "message.timestamp.type": "LogAppendTime"}
    assert {name: topic_configs.check(name, value, table)[1] for name, value in good.items()} == dict.fromkeys(good)


def test_case_count():
    """Well over a hundred mistakes across every section, at least 30 of them KRaft's."""
    assert len(KRAFT_CASES) >= 30
    total = len(ZK_CASES) + len(KAFKA_CASES) + len(KRAFT_CASES) + len(HOST_CASES) + len(RUNNER_CASES) + len(PKI_CASES)
    assert total > 200
