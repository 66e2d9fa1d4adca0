"""kafkasalt.ops.sizing.recommend on the recorded hardware shapes and on hand-made layouts."""

import os

import pytest

from kafkasalt.ops import hardware, sizing

TREES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "hw")

SLOW_LINK_SYSCTL = {
    "vm.max_map_count": 262144,
    "vm.swappiness": 1,
    "vm.dirty_ratio": 80,
    "vm.dirty_background_ratio": 5,
    "net.core.rmem_default": 131072,
    "net.core.wmem_default": 131072,
    "net.core.rmem_max": 2097152,
    "net.core.wmem_max": 2097152,
    "net.ipv4.tcp_rmem": "4096 65536 2097152",
    "net.ipv4.tcp_wmem": "4096 65536 2097152",
    "net.ipv4.tcp_window_scaling": 1,
    "net.ipv4.tcp_max_syn_backlog": 4096,
    "net.core.netdev_max_backlog": 5000,
}
FAST_LINK_SYSCTL = {
    **SLOW_LINK_SYSCTL,
    "net.core.rmem_max": 16777216,
    "net.core.wmem_max": 16777216,
    "net.ipv4.tcp_rmem": "4096 65536 16777216",
    "net.ipv4.tcp_wmem": "4096 65536 16777216",
    "net.core.netdev_max_backlog": 30000,
}


def shape(name):
    return hardware.collect(os.path.join(TREES, name))


def values(result):
    return {key: item["value"] for key, item in sizing.recommendation_items(result).items()}


# --- the recorded shapes ----------------------------------------------------------------


def test_vm_1disk_broker():
    result = sizing.recommend(shape("vm-1disk"))
    got = values(result)
    assert got["broker_heap_mb"] == 512  # 25% of 1967 MiB = 491, raised to the minimum
    assert result["broker_heap_mb"]["why"].startswith("25% of 1.9 GiB RAM = 491 MiB, raised to the minimum")
    assert got["num.network.threads"] == 3
    assert got["num.io.threads"] == 8
    assert got["num.recovery.threads.per.data.dir"] == 1
    assert got["log.dirs"] == ["/var/lib/kafka/data"]  # only the OS disk
    assert result["log.dirs"]["source"] == "default"
    assert got["replication_throttle_bytes_per_sec"] == 37500000  # no speed: 30% of an assumed 1 Gb/s
    assert result["replication_throttle_bytes_per_sec"]["source"] == "default"
    assert got["nofile"] == 128000
    assert result["sysctl"] == SLOW_LINK_SYSCTL
    assert result["server_properties"] == {
        "num.network.threads": 3,
        "num.io.threads": 8,
        "num.recovery.threads.per.data.dir": 1,
        "log.dirs": "/var/lib/kafka/data",
    }
    assert result["limits"] == {"nofile": 128000}
    assert "zookeeper_heap_mb" not in result
    assert result["warnings"] == []


def test_vm_1disk_zookeeper():
    result = sizing.recommend(shape("vm-1disk"), role="zookeeper")
    assert result["zookeeper_heap_mb"]["value"] == 256  # 12.5% = 245 MiB, raised to the minimum
    assert "broker_heap_mb" not in result
    assert "log.dirs" not in result
    assert "vm.max_map_count" not in result["sysctl"]  # only brokers mmap segment indexes
    assert result["server_properties"] == {}
    assert result["limits"] == {"nofile": 128000}


def test_laptop_nvme_both_roles():
    result = sizing.recommend(shape("laptop-nvme"), role="both")
    got = values(result)
    assert got["broker_heap_mb"] == 3928  # 25% of 15.3 GiB
    assert got["zookeeper_heap_mb"] == 1964
    assert got["num.network.threads"] == 3  # 4 physical cores / 2 = 2, raised to Kafka's 3
    assert got["num.io.threads"] == 8
    assert got["num.recovery.threads.per.data.dir"] == 4
    # /home is an LVM volume on the same NVMe as /, the stick is vfat under /media
    assert got["log.dirs"] == ["/var/lib/kafka/data"]
    assert got["replication_throttle_bytes_per_sec"] == 37500000  # wifi has no speed
    assert result["sysctl"] == SLOW_LINK_SYSCTL
    assert result["inputs"]["cores"] == 4


def test_seed000_prod_broker():
    result = sizing.recommend(shape("seed000-prod"))
    got = values(result)
    assert got["broker_heap_mb"] == 6144
    assert "capped" in result["broker_heap_mb"]["why"]
    assert got["num.network.threads"] == 12
    assert got["num.io.threads"] == 24
    assert got["num.recovery.threads.per.data.dir"] == 2  # 24 cores over 12 disks
    assert got["log.dirs"] == [f"/data/d{number}/kafka-logs" for number in range(1, 13)]  # d10 after d9
    assert got["replication_throttle_bytes_per_sec"] == 375000000  # 30% of 10 Gb/s
    assert "eno1" in result["replication_throttle_bytes_per_sec"]["why"]
    assert result["sysctl"] == FAST_LINK_SYSCTL
    assert result["inputs"] == {
        "mem_total_bytes": 65758312 * 1024,
        "cores": 24,
        "data_disks": ["sd" + chr(ord("b") + index) for index in range(12)],
        "fastest_link_mbps": 10000,
        "slowest_link_mbps": 10000,
    }
    assert result["server_properties"]["log.dirs"] == ",".join(got["log.dirs"])
    assert result["warnings"] == []


def test_seed000_prod_zookeeper_heap_capped():
    assert sizing.recommend(shape("seed000-prod"), role="zookeeper")["zookeeper_heap_mb"]["value"] == 2048


def test_degraded_shape_uses_defaults_where_unknown():
    result = sizing.recommend(shape("degraded"), role="both")
    got = values(result)
    assert got["broker_heap_mb"] == 1024  # kafka-server-start.sh default
    assert got["zookeeper_heap_mb"] == 1000  # zkEnv.sh default
    assert result["broker_heap_mb"]["source"] == "default"
    assert got["num.recovery.threads.per.data.dir"] == 2  # 2 physical cores from topology
    assert got["log.dirs"] == ["/data/kafka-logs"]


def test_every_item_explains_itself_in_one_line():
    for name in ("vm-1disk", "laptop-nvme", "seed000-prod", "degraded"):
        for key, item in sizing.recommendation_items(sizing.recommend(shape(name), role="both")).items():
            assert item["why"] and "\n" not in item["why"], key
            assert item["kind"] in {"heap", "server_property", "sysctl", "limit", "throttle"}, key
            assert item["source"] in {"computed", "default"}, key


def test_unknown_cores_fall_back_to_kafka_defaults():
    result = sizing.recommend({"mem_total_bytes": None, "cpu_logical_cores": None, "cpu_physical_cores": None})
    got = values(result)
    assert (got["num.network.threads"], got["num.io.threads"], got["num.recovery.threads.per.data.dir"]) == (3, 8, 1)
    assert result["num.io.threads"]["source"] == "default"


def test_logical_cores_used_when_physical_unknown():
    result = sizing.recommend({"cpu_logical_cores": 16})
    assert result["num.network.threads"]["value"] == 8
    assert "logical cores" in result["num.network.threads"]["why"]


# --- partition-driven limits -------------------------------------------------------------


@pytest.mark.parametrize(
    "partitions, max_map_count, nofile",
    [
        (0, 262144, 128000),
        (1000, 262144, 128000),
        (32768, 262144, 403216),  # maps 262144 exactly, fds 12 x 32768 + 10000
        (50000, 400000, 610000),
    ],
)
def test_partition_count_drives_limits(partitions, max_map_count, nofile):
    result = sizing.recommend(shape("seed000-prod"), expected_partitions=partitions)
    assert result["sysctl"]["vm.max_map_count"] == max_map_count
    assert result["limits"]["nofile"] == nofile


# --- hand-made disk and NIC layouts ------------------------------------------------------


def disk(name, *mounts, rotational=True, backing=()):
    return {
        "name": name,
        "rotational": rotational,
        "backing_disks": list(backing),
        "mounts": [
            {"device": f"/dev/{name}", "mountpoint": point, "fstype": fstype, "read_only": read_only}
            for point, fstype, read_only in mounts
        ],
    }


OS_DISK = disk("sda", ("/", "ext4", False), ("/boot/efi", "vfat", False))


def log_dirs(*disks):
    return sizing.recommend({"disks": [OS_DISK, *disks]})["log.dirs"]["value"]


def test_lvm_volume_on_a_separate_disk_is_a_data_disk():
    assert log_dirs(disk("sdb"), disk("dm-0", ("/var/lib/kafka", "xfs", False), backing=["sdb"])) == [
        "/var/lib/kafka/kafka-logs"
    ]


def test_volume_sharing_the_os_disk_is_not_a_data_disk():
    assert log_dirs(disk("dm-1", ("/srv/kafka", "xfs", False), backing=["sda"])) == ["/var/lib/kafka/data"]


def test_unusable_mounts_are_skipped():
    assert log_dirs(
        disk("sdb", ("/data/ro", "xfs", True)),  # read-only
        disk("sdc", ("/data/win", "vfat", False)),  # not a Kafka filesystem
        disk("sdd", ("/mnt", "ext4", False)),  # a cloud's ephemeral disk
        disk("sde", ("/data/e", "xfs", False), ("/var/lib/docker/bind", "xfs", False)),  # bind mount ignored
    ) == ["/data/e/kafka-logs"]


def test_two_volumes_of_one_data_disk_give_one_log_dir():
    assert log_dirs(
        disk("dm-2", ("/data/a", "xfs", False), backing=["sdb"]),
        disk("dm-3", ("/data/b", "xfs", False), backing=["sdb"]),
    ) == ["/data/a/kafka-logs"]


def test_mixed_media_is_warned_about():
    result = sizing.recommend(
        {"disks": [OS_DISK, disk("sdb", ("/data/hdd", "xfs", False)), disk("nvme0n1", ("/data/ssd", "xfs", False),
                                                                              rotational=False)]}
    )
    assert result["log.dirs"]["value"] == ["/data/hdd/kafka-logs", "/data/ssd/kafka-logs"]
    assert any("mixes rotational" in warning for warning in result["warnings"])


def nic(name, speed, physical=True, operstate="up", loopback=False):
    return {"name": name, "speed_mbps": speed, "physical": physical, "operstate": operstate, "loopback": loopback}


def test_throttle_uses_the_slowest_usable_nic_and_buffers_the_fastest():
    result = sizing.recommend(
        {
            "nics": [
                nic("lo", None, physical=False, loopback=True),
                nic("eno1", 10000),
                nic("eno2", 1000),
                nic("veth1", 100, physical=False),  # virtual: ignored
                nic("eno3", 10, operstate="down"),  # no link: ignored
            ]
        }
    )
    assert result["replication_throttle_bytes_per_sec"]["value"] == 37500000
    assert "eno2" in result["replication_throttle_bytes_per_sec"]["why"]
    assert result["sysctl"]["net.core.rmem_max"] == 16777216


def test_heaps_taking_most_of_ram_are_warned_about():
    result = sizing.recommend({"mem_total_bytes": 1024**3}, role="both")
    assert (result["broker_heap_mb"]["value"], result["zookeeper_heap_mb"]["value"]) == (512, 256)
    assert any("75%" in warning for warning in result["warnings"])


# --- overrides -------------------------------------------------------------------------


def test_overrides_replace_computed_values():
    result = sizing.recommend(
        shape("seed000-prod"),
        overrides={
            "broker_heap_mb": 4096,
            "num.io.threads": 32,
            "log.dirs": "/kafka/a, /kafka/b",
            "vm.swappiness": 0,
            "net.ipv4.tcp_keepalive_time": 600,  # not computed, still a sysctl
            "zookeeper_heap_mb": 512,  # not produced for a broker: ignored
            "nofile": None,  # pillar null: keep computed
        },
    )
    assert result["broker_heap_mb"] == {
        "value": 4096,
        "why": "operator override (computed: 6144)",
        "kind": "heap",
        "source": "override",
    }
    assert result["server_properties"]["num.io.threads"] == 32
    assert result["server_properties"]["num.recovery.threads.per.data.dir"] == 8  # 24 cores / 2 operator dirs, capped
    assert result["server_properties"]["log.dirs"] == "/kafka/a,/kafka/b"
    assert result["sysctl"]["vm.swappiness"] == 0
    assert result["sysctl"]["net.ipv4.tcp_keepalive_time"] == 600
    assert "zookeeper_heap_mb" not in result
    assert result["nofile"]["source"] == "computed"


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"bogus": 1}, "overrides['bogus']"),
        ({"broker_heap_mb": "4g"}, "overrides['broker_heap_mb']"),
        ({"broker_heap_mb": 0}, "overrides['broker_heap_mb']"),
        ({"num.io.threads": True}, "overrides['num.io.threads']"),
        ({"log.dirs": ["relative/dir"]}, "overrides['log.dirs']"),
        ({"log.dirs": []}, "overrides['log.dirs']"),
        ({"vm.swappiness": -1}, "overrides['vm.swappiness']"),
        ({"net.core.somaxconn": "1\n2"}, "overrides['net.core.somaxconn']"),
        (["broker_heap_mb"], "overrides"),
    ],
)
def test_bad_overrides_name_the_key(overrides, named):
    with pytest.raises(ValueError) as error:
        sizing.recommend(shape("vm-1disk"), overrides=overrides)
    assert str(error.value).startswith(named)


# --- bad arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"expected_partitions": -1}, "expected_partitions"),
        ({"expected_partitions": "1000"}, "expected_partitions"),
        ({"expected_partitions": True}, "expected_partitions"),
        ({"role": "controller"}, "role"),
        ({"hardware": None}, "hardware"),
        ({"hardware": {"mem_total_bytes": "lots"}}, "hardware['mem_total_bytes']"),
        ({"hardware": {"cpu_logical_cores": -2}}, "hardware['cpu_logical_cores']"),
        ({"hardware": {"disks": "sda"}}, "hardware['disks']"),
        ({"hardware": {"nics": [1]}}, "hardware['nics']"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, named):
    arguments = {"hardware": shape("vm-1disk"), **kwargs}
    with pytest.raises(ValueError) as error:
        sizing.recommend(**arguments)
    assert str(error.value).startswith(named)


def test_expected_partitions_has_one_rule_with_a_kernel_bound():
    _s = sizing
    assert _s.expected_partitions_problem(1000) is None
    assert _s.expected_partitions_problem(_s.MAX_EXPECTED_PARTITIONS) is None
    assert "fs.nr_open" in _s.expected_partitions_problem(_s.MAX_EXPECTED_PARTITIONS + 1)
    assert "from 1 to" in _s.expected_partitions_problem(0)
    assert "got True" in _s.expected_partitions_problem(True)
    # The bound is where the sized nofile limit reaches the kernel's default fs.nr_open.
    sized = _s.recommend(shape("vm-1disk"), expected_partitions=_s.MAX_EXPECTED_PARTITIONS)["nofile"]["value"]
    assert sized <= _s.NR_OPEN_DEFAULT
