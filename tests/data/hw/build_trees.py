"""Write the recorded /proc and /sys trees that tests feed to ``kafkasalt.ops.hardware.collect``.

Each shape holds only the files ``collect`` reads, with content in the kernel's own
formats. Run ``python tests/data/hw/build_trees.py`` to rebuild them; the output is
committed. Git keeps no empty directories, so a directory that stands in for a file
(an unreadable entry) carries a ``.keep`` file.
"""

import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SECTOR = 512


class Tree:
    """Writes one recorded machine under ``tests/data/hw/<shape>``."""

    def __init__(self, shape):
        self.root = os.path.join(HERE, shape)
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)

    def write(self, relative, content):
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)

    def directory(self, relative):
        """A directory (kept by git through a .keep file), e.g. where a file should be."""
        self.write(os.path.join(relative, ".keep"), "")

    def broken_link(self, relative):
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink("../does-not-exist", path)

    def meminfo(self, total_kb):
        free_kb = total_kb * 7 // 10
        self.write(
            "proc/meminfo",
            f"MemTotal:       {total_kb:>8} kB\n"
            f"MemFree:        {free_kb:>8} kB\n"
            f"MemAvailable:   {free_kb + total_kb // 10:>8} kB\n"
            "Buffers:          123456 kB\n"
            f"Cached:         {total_kb // 10:>8} kB\n"
            "SwapTotal:             0 kB\n",
        )

    def cpuinfo(self, processors, model, siblings, cores_per_package):
        """processors: list of (physical id, core id), one per logical CPU, in kernel order."""
        blocks = []
        for number, (package, core) in enumerate(processors):
            blocks.append(
                f"processor\t: {number}\n"
                "vendor_id\t: GenuineIntel\n"
                "cpu family\t: 6\n"
                f"model name\t: {model}\n"
                "cpu MHz\t\t: 2400.000\n"
                f"physical id\t: {package}\n"
                f"siblings\t: {siblings}\n"
                f"core id\t\t: {core}\n"
                f"cpu cores\t: {cores_per_package}\n"
                f"apicid\t\t: {number * 2}\n"
                "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr ht syscall nx lm\n"
                "bogomips\t: 4800.00\n"
                "address sizes\t: 46 bits physical, 48 bits virtual\n"
                "power management:\n"
            )
        self.write("proc/cpuinfo", "\n".join(blocks) + "\n")
        self.write("sys/devices/system/cpu/online", f"0-{len(processors) - 1}\n" if len(processors) > 1 else "0\n")
        for number, (package, core) in enumerate(processors):
            self.write(f"sys/devices/system/cpu/cpu{number}/topology/physical_package_id", f"{package}\n")
            self.write(f"sys/devices/system/cpu/cpu{number}/topology/core_id", f"{core}\n")

    def block(self, name, sectors, rotational, dev, partitions=(), dm_name=None, slaves=()):
        """partitions: (name, dev, sectors) tuples; slaves: names of the devices under a dm device."""
        base = f"sys/block/{name}"
        self.write(f"{base}/size", f"{sectors}\n")
        self.write(f"{base}/dev", f"{dev}\n")
        self.write(f"{base}/queue/rotational", f"{rotational}\n")
        for part_name, part_dev, part_sectors in partitions:
            self.write(f"{base}/{part_name}/partition", f"{part_name[-1]}\n")
            self.write(f"{base}/{part_name}/dev", f"{part_dev}\n")
            self.write(f"{base}/{part_name}/size", f"{part_sectors}\n")
        if dm_name:
            self.write(f"{base}/dm/name", f"{dm_name}\n")
        for slave in slaves:
            self.write(f"{base}/slaves/{slave}/dev", "\n")  # a link to the slave on a live system

    def nic(self, name, speed, mtu, operstate, physical, link_type=1):
        """speed: file content (str), or None for no file."""
        base = f"sys/class/net/{name}"
        if speed is not None:
            self.write(f"{base}/speed", speed)
        self.write(f"{base}/mtu", f"{mtu}\n")
        self.write(f"{base}/operstate", f"{operstate}\n")
        self.write(f"{base}/type", f"{link_type}\n")
        if physical:
            self.write(f"{base}/device/uevent", "DRIVER=placeholder\n")

    def statvfs(self, free_by_mountpoint):
        self.write("statvfs.json", json.dumps(free_by_mountpoint, indent=1, sort_keys=True) + "\n")


def fib_trie(local_addresses, extra_nodes=""):
    """A /proc/net/fib_trie with the given /32 host LOCAL addresses (Main and Local tables)."""
    leaves = "".join(f"           |-- {address}\n              /32 host LOCAL\n" for address in local_addresses)
    table = (
        "  +-- 0.0.0.0/0 3 0 5\n"
        "     |-- 0.0.0.0\n"
        "        /0 universe UNICAST\n"
        "     +-- 127.0.0.0/8 2 0 2\n"
        "        +-- 127.0.0.0/31 1 0 0\n"
        "           |-- 127.0.0.0\n"
        "              /8 host LOCAL\n"
        f"{leaves}"
        "        |-- 127.255.255.255\n"
        "           /32 link BROADCAST\n"
        f"{extra_nodes}"
    )
    return f"Main:\n{table}Local:\n{table}"


def route_hex(address):
    """/proc/net/route's little-endian hex form of a dotted quad (x86 trees)."""
    return "".join(f"{int(octet):02X}" for octet in reversed(address.split(".")))


def route_table(routes):
    """routes: (iface, destination, gateway, mask, flags)."""
    lines = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
    for iface, destination, gateway, mask, flags in routes:
        lines.append(
            f"{iface}\t{route_hex(destination)}\t{route_hex(gateway)}\t{flags:04X}\t0\t0\t100\t"
            f"{route_hex(mask)}\t0\t0\t0"
        )
    return "\n".join(lines) + "\n"


def vm_1disk():
    """A 2 GiB, 1 vCPU cloud VM: one virtio disk, virtio NIC without a link speed."""
    tree = Tree("vm-1disk")
    tree.meminfo(2014908)
    tree.cpuinfo([(0, 0)], "QEMU Virtual CPU version 2.5+", siblings=1, cores_per_package=1)
    tree.block(
        "vda",
        41943040,
        1,
        "252:0",
        partitions=[("vda1", "252:1", 41719775), ("vda14", "252:14", 8192), ("vda15", "252:15", 217088)],
    )
    for number in range(3):  # snaps
        tree.block(f"loop{number}", 130000 + number, 1, f"7:{number}")
    tree.block("sr0", 2048, 1, "11:0")  # cloud-init seed
    tree.write(
        "proc/mounts",
        "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
        "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
        "udev /dev devtmpfs rw,nosuid,relatime,size=987654k,nr_inodes=246913,mode=755 0 0\n"
        "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=201492k,mode=755 0 0\n"
        "/dev/vda1 / ext4 rw,relatime,discard,errors=remount-ro 0 0\n"
        "/dev/loop0 /snap/core20/2015 squashfs ro,nodev,relatime 0 0\n"
        "/dev/loop1 /snap/lxd/24322 squashfs ro,nodev,relatime 0 0\n"
        "/dev/loop2 /snap/snapd/20290 squashfs ro,nodev,relatime 0 0\n"
        "/dev/vda15 /boot/efi vfat rw,relatime,fmask=0077,dmask=0077,codepage=437,iocharset=iso8859-1 0 0\n",
    )
    tree.nic("eth0", "-1\n", 1500, "up", physical=True)  # virtio reports no speed
    tree.nic("lo", None, 65536, "unknown", physical=False, link_type=772)
    tree.write("proc/net/fib_trie", fib_trie(["127.0.0.1", "10.0.0.15"]))
    tree.write(
        "proc/net/route",
        route_table(
            [
                ("eth0", "0.0.0.0", "10.0.0.1", "0.0.0.0", 0x0003),
                ("eth0", "10.0.0.0", "0.0.0.0", "255.255.255.0", 0x0001),
            ]
        ),
    )
    tree.write(
        "proc/net/if_inet6",
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fe80000000000000f8163efffe2a9c01 02 40 20 80     eth0\n",
    )
    tree.statvfs({"/": 15032385536, "/boot/efi": 98041856})


def laptop_nvme():
    """A 16 GB laptop, 4 cores / 8 threads, NVMe with LUKS+LVM, wifi without a speed."""
    tree = Tree("laptop-nvme")
    tree.meminfo(16092604)
    threads = [(0, core) for core in range(4)] * 2  # HT siblings follow the first thread of each core
    tree.cpuinfo(threads, "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", siblings=8, cores_per_package=4)
    tree.block(
        "nvme0n1",
        1000215216,
        0,
        "259:0",
        partitions=[
            ("nvme0n1p1", "259:1", 1048576),
            ("nvme0n1p2", "259:2", 3907584),
            ("nvme0n1p3", "259:3", 995256320),
        ],
    )
    tree.block("dm-0", 995223552, 0, "253:0", dm_name="nvme0n1p3_crypt", slaves=["nvme0n1p3"])
    tree.block("dm-1", 943718400, 0, "253:1", dm_name="vgubuntu-root", slaves=["dm-0"])
    tree.block("dm-2", 2007040, 0, "253:2", dm_name="vgubuntu-swap_1", slaves=["dm-0"])
    tree.block("dm-3", 49152000, 0, "253:3", dm_name="vgubuntu-home", slaves=["dm-0"])
    tree.block("sda", 62521344, 1, "8:0", partitions=[("sda1", "8:1", 62519296)])  # USB stick
    tree.block("zram0", 8388608, 0, "252:0")
    tree.block("loop0", 113344, 0, "7:0")
    tree.write(
        "proc/self/mountinfo",
        "24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "25 30 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:14 - proc proc rw\n"
        "26 30 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=8000000k,mode=755\n"
        "30 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/vgubuntu-root rw,errors=remount-ro\n"
        "33 30 0:26 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=1609260k,mode=755\n"
        "70 30 7:0 / /snap/firefox/3626 ro,nodev,relatime shared:35 - squashfs /dev/loop0 ro,errors=continue\n"
        "98 30 259:2 / /boot rw,relatime shared:50 - ext4 /dev/nvme0n1p2 rw\n"
        "101 98 259:1 / /boot/efi rw,relatime shared:52 - vfat /dev/nvme0n1p1 rw,fmask=0077,dmask=0077\n"
        "104 30 253:3 / /home rw,relatime shared:54 - ext4 /dev/mapper/vgubuntu-home rw\n"
        "640 33 8:1 / /media/alice/MY\\040STICK rw,nosuid,nodev,relatime shared:330 - vfat /dev/sda1 "
        "rw,uid=1000,gid=1000,fmask=0022,dmask=0022\n",
    )
    tree.nic("docker0", "n/a\n", 1500, "down", physical=False)  # garbage speed
    tree.nic("enp0s31f6", "-1\n", 1500, "down", physical=True)  # cable unplugged
    tree.nic("lo", None, 65536, "unknown", physical=False, link_type=772)
    tree.nic("wlp0s20f3", None, 1500, "up", physical=True)
    tree.directory("sys/class/net/wlp0s20f3/speed")  # wifi: reading speed fails (EINVAL on a live system)
    tree.write("sys/class/net/wlp0s20f3/wireless/.keep", "")
    tree.write("proc/net/fib_trie", fib_trie(["127.0.0.1", "172.17.0.1", "192.168.1.23"]))
    tree.write(
        "proc/net/route",
        route_table(
            [
                ("wlp0s20f3", "0.0.0.0", "192.168.1.1", "0.0.0.0", 0x0003),
                ("docker0", "172.17.0.0", "0.0.0.0", "255.255.0.0", 0x0001),
                ("wlp0s20f3", "192.168.1.0", "0.0.0.0", "255.255.255.0", 0x0001),
            ]
        ),
    )
    tree.write(
        "proc/net/if_inet6",
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "2a0104f8c0101234a1b2c3d4e5f60789 03 40 00 00 wlp0s20f3\n"
        "fe800000000000005a1ad4fffe3b7c01 03 40 20 80 wlp0s20f3\n",
    )
    tree.statvfs({"/": 301989888000, "/boot": 1610612736, "/boot/efi": 530579456, "/home": 12884901888,
                  "/media/alice/MY STICK": 31138512896})


def seed000_prod():
    """Seed 000's production box: 64 GB RAM, 24 cores (2 x 12, HT), OS SSD + 12 data HDDs, 10 GbE."""
    tree = Tree("seed000-prod")
    tree.meminfo(65758312)
    core_ids = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13]  # Intel numbers cores with gaps
    first_threads = [(0, core) for core in core_ids] + [(1, core) for core in core_ids]
    tree.cpuinfo(first_threads * 2, "Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz", siblings=24, cores_per_package=12)
    tree.block("sda", 937703088, 0, "8:0", partitions=[("sda1", "8:1", 1228800), ("sda2", "8:2", 936472576)])
    data_disks = []
    for index in range(12):
        name = "sd" + chr(ord("b") + index)
        major_minor = f"8:{16 * (index + 1)}"
        if index == 11:  # the last disk was partitioned before being formatted
            partition = (name + "1", f"8:{16 * (index + 1) + 1}", 7814035087)
            tree.block(name, 7814037168, 1, major_minor, partitions=[partition])
            data_disks.append((name + "1", f"8:{16 * (index + 1) + 1}", f"/data/d{index + 1}"))
        else:
            tree.block(name, 7814037168, 1, major_minor)
            data_disks.append((name, major_minor, f"/data/d{index + 1}"))
    mountinfo = [
        "22 1 8:2 / / rw,relatime shared:1 - xfs /dev/root rw,attr2,inode64,logbufs=8,noquota",  # booted root=
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
        "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw",
        "25 22 0:5 / /dev rw,nosuid shared:8 - devtmpfs devtmpfs rw,size=32857080k,mode=755",
        "27 22 0:24 / /run rw,nosuid,nodev shared:10 - tmpfs tmpfs rw,mode=755",
        "40 22 8:1 / /boot/efi rw,relatime shared:30 - vfat /dev/sda1 rw,fmask=0077,dmask=0077",
    ]
    for number, (device, major_minor, mountpoint) in enumerate(reversed(data_disks)):  # fstab order is arbitrary
        mountinfo.append(f"{50 + number} 22 {major_minor} / {mountpoint} rw,noatime shared:{60 + number} - xfs "
                         f"/dev/{device} rw,attr2,inode64,logbufs=8,noquota")
    mountinfo.append("90 22 0:45 / /mnt/backup rw,relatime shared:99 - nfs4 nas01:/export/backup rw,vers=4.2")
    tree.write("proc/self/mountinfo", "\n".join(mountinfo) + "\n")
    tree.nic("bond0", "20000\n", 9000, "up", physical=False)
    tree.nic("eno1", "10000\n", 9000, "up", physical=True)
    tree.nic("eno2", "10000\n", 9000, "up", physical=True)
    tree.nic("eno3", "4294967295\n", 1500, "down", physical=True)  # no link, old-kernel unsigned -1
    tree.nic("lo", None, 65536, "unknown", physical=False, link_type=772)
    tree.write("sys/class/net/bonding_masters", "bond0\n")  # a file, not an interface
    tree.write("proc/net/fib_trie", fib_trie(["127.0.0.1", "10.20.0.11"]))
    tree.write(
        "proc/net/route",
        route_table(
            [
                ("bond0", "0.0.0.0", "10.20.0.1", "0.0.0.0", 0x0003),
                ("bond0", "10.20.0.0", "0.0.0.0", "255.255.255.0", 0x0001),
                ("bond0", "10.99.0.0", "10.20.0.254", "255.255.0.0", 0x0003),
            ]
        ),
    )
    tree.write(
        "proc/net/if_inet6",
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fe80000000000000b696916ffe4a2b10 06 40 20 80    bond0\n",
    )
    free = {"/": 402653184000, "/boot/efi": 622854144}
    free.update({mountpoint: 3900000000000 - index * 1000000000 for index, (_, _, mountpoint) in enumerate(data_disks)})
    tree.statvfs(free)


def degraded():
    """Broken entries everywhere: directories and broken links where files should be, garbage."""
    tree = Tree("degraded")
    tree.broken_link("proc/meminfo")
    tree.directory("proc/cpuinfo")
    tree.write("sys/devices/system/cpu/online", "zero-three\n")
    for number, core in enumerate([0, 1, 0, 1]):
        tree.write(f"sys/devices/system/cpu/cpu{number}/topology/physical_package_id", "0\n")
        if number == 3:
            tree.broken_link(f"sys/devices/system/cpu/cpu{number}/topology/core_id")
        else:
            tree.write(f"sys/devices/system/cpu/cpu{number}/topology/core_id", f"{core}\n")
    tree.block("sda", 0, 0, "8:0", partitions=[("sda1", "8:1", 100)])
    tree.write("sys/block/sda/size", "not-a-number\n")
    os.remove(os.path.join(tree.root, "sys/block/sda/queue/rotational"))
    tree.directory("sys/block/sda/queue/rotational")
    tree.block("sdb", 1953525168, 1, "8:16")
    os.remove(os.path.join(tree.root, "sys/block/sdb/dev"))
    tree.directory("proc/mounts")
    tree.write(
        "proc/self/mounts",
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        "garbage-line\n"
        "/dev/sdb /data ext4 rw,noatime 0 0\n",
    )
    tree.write("statvfs.json", "{not json\n")
    tree.nic("eth0", None, 1500, "up", physical=True)
    tree.directory("sys/class/net/eth0/speed")
    os.remove(os.path.join(tree.root, "sys/class/net/eth0/mtu"))
    tree.broken_link("sys/class/net/eth0/mtu")
    os.remove(os.path.join(tree.root, "sys/class/net/eth0/type"))
    os.remove(os.path.join(tree.root, "sys/class/net/eth0/operstate"))
    tree.nic("lo", None, 65536, "unknown", physical=False, link_type=772)
    tree.write(
        "proc/net/if_inet6",
        "zzzz 02 40 20 80 eth0\n"
        "fe800000000000000000000000000001 02 40 20 80     eth0\n",
    )


if __name__ == "__main__":
    for build in (vm_1disk, laptop_nvme, seed000_prod, degraded):
        build()
        print("wrote", build.__name__)
