"""kafkasalt.ops.hardware.collect against recorded /proc + /sys trees and the live machine."""

import importlib.util
import json
import os
import types

import pytest

from kafkasalt.ops import hardware

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TREES = os.path.join(REPO, "tests", "data", "hw")


def tree(shape):
    return os.path.join(TREES, shape)


def by_name(entries):
    return {entry["name"]: entry for entry in entries}


def mountpoints(disk):
    return [mount["mountpoint"] for mount in disk["mounts"]]


# --- vm-1disk --------------------------------------------------------------------------


def test_vm_1disk_memory_and_cpu():
    facts = hardware.collect(tree("vm-1disk"))
    assert facts["mem_total_bytes"] == 2014908 * 1024
    assert facts["cpu_logical_cores"] == 1
    assert facts["cpu_physical_cores"] == 1


def test_vm_1disk_lists_the_virtio_disk_only():
    facts = hardware.collect(tree("vm-1disk"))
    assert [disk["name"] for disk in facts["disks"]] == ["vda"]  # loop0-2 and sr0 skipped
    vda = facts["disks"][0]
    assert vda["size_bytes"] == 41943040 * 512
    assert vda["rotational"] is True
    assert vda["ssd"] is False
    assert vda["backing_disks"] == []
    assert vda["mounts"] == [
        {"device": "/dev/vda1", "mountpoint": "/", "fstype": "ext4", "read_only": False, "free_bytes": 15032385536},
        {"device": "/dev/vda15", "mountpoint": "/boot/efi", "fstype": "vfat", "read_only": False,
         "free_bytes": 98041856},
    ]


def test_vm_1disk_nic_without_speed():
    nics = by_name(hardware.collect(tree("vm-1disk"))["nics"])
    assert list(nics) == ["eth0", "lo"]
    assert nics["eth0"] == {
        "name": "eth0",
        "speed_mbps": None,  # virtio reports -1
        "mtu": 1500,
        "operstate": "up",
        "loopback": False,
        "physical": True,
        "addresses": ["10.0.0.15", "fe80::f816:3eff:fe2a:9c01"],
    }
    assert nics["lo"]["loopback"] is True
    assert nics["lo"]["physical"] is False
    assert nics["lo"]["addresses"] == ["127.0.0.1", "::1"]  # 127.0.0.0/8 is a route, not an address


# --- laptop-nvme -------------------------------------------------------------------------


def test_laptop_counts_threads_and_cores():
    facts = hardware.collect(tree("laptop-nvme"))
    assert facts["mem_total_bytes"] == 16092604 * 1024
    assert facts["cpu_logical_cores"] == 8
    assert facts["cpu_physical_cores"] == 4


def test_laptop_nvme_luks_lvm_layout():
    disks = by_name(hardware.collect(tree("laptop-nvme"))["disks"])
    assert list(disks) == ["dm-0", "dm-1", "dm-2", "dm-3", "nvme0n1", "sda"]  # zram0, loop0 skipped
    nvme = disks["nvme0n1"]
    assert nvme["ssd"] is True and nvme["rotational"] is False
    assert nvme["size_bytes"] == 1000215216 * 512
    assert mountpoints(nvme) == ["/boot", "/boot/efi"]
    # LVM on LUKS on nvme0n1p3: every volume resolves to the NVMe disk underneath
    for volume in ("dm-0", "dm-1", "dm-2", "dm-3"):
        assert disks[volume]["backing_disks"] == ["nvme0n1"]
    assert mountpoints(disks["dm-1"]) == ["/"]
    assert disks["dm-1"]["mounts"][0]["device"] == "/dev/mapper/vgubuntu-root"
    assert mountpoints(disks["dm-2"]) == []  # swap
    assert mountpoints(disks["dm-3"]) == ["/home"]
    stick = disks["sda"]["mounts"][0]
    assert stick["mountpoint"] == "/media/alice/MY STICK"  # \040 unescaped
    assert stick["free_bytes"] == 31138512896


def test_laptop_wifi_and_docker_have_no_speed():
    nics = by_name(hardware.collect(tree("laptop-nvme"))["nics"])
    assert list(nics) == ["docker0", "enp0s31f6", "lo", "wlp0s20f3"]
    assert all(nic["speed_mbps"] is None for nic in nics.values())  # unreadable, garbage, -1, absent
    wifi = nics["wlp0s20f3"]
    assert wifi["physical"] is True and wifi["operstate"] == "up"
    assert wifi["addresses"] == ["192.168.1.23", "2a01:4f8:c010:1234:a1b2:c3d4:e5f6:789", "fe80::5a1a:d4ff:fe3b:7c01"]
    assert nics["docker0"]["addresses"] == ["172.17.0.1"]
    assert nics["docker0"]["physical"] is False
    assert nics["enp0s31f6"]["addresses"] == []


# --- seed000-prod ------------------------------------------------------------------------


def test_seed000_memory_and_cpu():
    facts = hardware.collect(tree("seed000-prod"))
    assert facts["mem_total_bytes"] == 65758312 * 1024
    assert facts["cpu_logical_cores"] == 48
    assert facts["cpu_physical_cores"] == 24  # 2 sockets x 12 cores, core ids with gaps


def test_seed000_disks_and_mounts():
    disks = by_name(hardware.collect(tree("seed000-prod"))["disks"])
    data_names = ["sd" + chr(ord("b") + index) for index in range(12)]
    assert list(disks) == ["sda"] + data_names
    os_disk = disks["sda"]
    assert os_disk["ssd"] is True
    assert os_disk["mounts"][0] == {
        "device": "/dev/root",  # matched through mountinfo's 8:2, not by name
        "mountpoint": "/",
        "fstype": "xfs",
        "read_only": False,
        "free_bytes": 402653184000,
    }
    for index, name in enumerate(data_names):
        disk = disks[name]
        assert disk["rotational"] is True and disk["ssd"] is False
        assert disk["size_bytes"] == 7814037168 * 512
        assert mountpoints(disk) == [f"/data/d{index + 1}"]
        assert disk["mounts"][0]["free_bytes"] == 3900000000000 - index * 1000000000
    assert disks["sdm"]["mounts"][0]["device"] == "/dev/sdm1"
    all_mountpoints = [point for disk in disks.values() for point in mountpoints(disk)]
    assert "/mnt/backup" not in all_mountpoints  # NFS is no disk of ours


def test_seed000_nics():
    nics = by_name(hardware.collect(tree("seed000-prod"))["nics"])
    assert list(nics) == ["bond0", "eno1", "eno2", "eno3", "lo"]  # bonding_masters is a file
    assert nics["eno1"]["speed_mbps"] == 10000 and nics["eno1"]["physical"] is True
    assert nics["eno1"]["mtu"] == 9000
    assert nics["eno3"]["speed_mbps"] is None  # 4294967295 = no link
    assert nics["bond0"]["speed_mbps"] == 20000 and nics["bond0"]["physical"] is False
    assert nics["bond0"]["addresses"] == ["10.20.0.11", "fe80::b696:916f:fe4a:2b10"]


# --- unreadable and missing entries ------------------------------------------------------


def test_degraded_tree_turns_bad_entries_into_none():
    facts = hardware.collect(tree("degraded"))
    assert facts["mem_total_bytes"] is None  # broken symlink
    assert facts["cpu_logical_cores"] == 4  # cpuinfo is a directory, online is garbage: cpuN dirs
    assert facts["cpu_physical_cores"] == 2  # topology, cpu3's core_id is a broken link
    disks = by_name(facts["disks"])
    assert disks["sda"]["size_bytes"] is None  # garbage
    assert disks["sda"]["rotational"] is None and disks["sda"]["ssd"] is None  # a directory
    assert mountpoints(disks["sda"]) == ["/"]  # /proc/mounts is a directory: /proc/self/mounts
    assert mountpoints(disks["sdb"]) == ["/data"]  # no dev file: matched by name
    assert all(mount["free_bytes"] is None for disk in disks.values() for mount in disk["mounts"])  # bad JSON
    eth0 = by_name(facts["nics"])["eth0"]
    assert eth0 == {
        "name": "eth0",
        "speed_mbps": None,
        "mtu": None,
        "operstate": None,
        "loopback": False,
        "physical": True,
        "addresses": ["fe80::1"],
    }


def test_missing_root_gives_empty_facts():
    assert hardware.collect(os.path.join(TREES, "no-such-machine")) == {
        "mem_total_bytes": None,
        "cpu_logical_cores": None,
        "cpu_physical_cores": None,
        "disks": [],
        "nics": [],
    }


def test_a_failing_step_leaves_the_others(monkeypatch):
    def explode(*_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(hardware, "_nics", explode)
    facts = hardware.collect(tree("vm-1disk"))
    assert facts["nics"] == []
    assert facts["mem_total_bytes"] == 2014908 * 1024
    assert [disk["name"] for disk in facts["disks"]] == ["vda"]


# --- injected statvfs ---------------------------------------------------------------------


def root_free(facts):
    return by_name(facts["disks"])["vda"]["mounts"][0]["free_bytes"]


def test_statvfs_result_objects_are_converted():
    facts = hardware.collect(tree("vm-1disk"), statvfs=lambda _: types.SimpleNamespace(f_bavail=10, f_frsize=4096))
    assert root_free(facts) == 40960


def test_statvfs_may_return_free_bytes():
    assert root_free(hardware.collect(tree("vm-1disk"), statvfs={"/": 123}.get)) == 123


@pytest.mark.parametrize("error", [OSError(5, "EIO"), RuntimeError("hung mount")])
def test_statvfs_failure_is_none(error):
    def failing(_mountpoint):
        raise error

    assert root_free(hardware.collect(tree("vm-1disk"), statvfs=failing)) is None


# --- the live machine ---------------------------------------------------------------------


def test_live_machine_facts_have_the_documented_types():
    facts = hardware.collect()
    json.dumps(facts)  # grains must serialize
    assert facts["mem_total_bytes"] > 0
    assert facts["cpu_logical_cores"] >= 1
    assert facts["cpu_physical_cores"] is None or 1 <= facts["cpu_physical_cores"] <= facts["cpu_logical_cores"]
    for disk in facts["disks"]:
        assert set(disk) == {"name", "size_bytes", "rotational", "ssd", "backing_disks", "mounts"}
        for mount in disk["mounts"]:
            assert mount["free_bytes"] is None or mount["free_bytes"] >= 0
    assert any(nic["loopback"] for nic in facts["nics"])


def load_grain_module():
    path = os.path.join(REPO, "_grains", "kafka_hardware.py")
    spec = importlib.util.spec_from_file_location("kafka_hardware_grain_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grain_on_the_live_machine():
    grains = load_grain_module().kafka_hardware()
    assert set(grains) == {"kafka_hardware"}
    assert grains["kafka_hardware"]["cpu_logical_cores"] >= 1
    json.dumps(grains)


def test_grain_never_raises(monkeypatch):
    module = load_grain_module()

    def explode(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module._hardware, "collect", explode)
    assert module.kafka_hardware() == {}
    monkeypatch.setattr(module, "_hardware", None)
    monkeypatch.setattr(module, "_IMPORT_ERROR", "No module named 'kafkasalt'", raising=False)
    assert module.kafka_hardware() == {}
