"""The drive-safety rules against recorded ``lsblk --json`` outputs of real kinds of machines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from talos.flash import drives as drv

FIXTURES = Path(__file__).parent / "fixtures" / "lsblk"
GB = 10**9
IMAGE = 1_300_000_000  # a Talos metal image, decompressed


def verdicts(
    fixture: str, image_size: int | None = IMAGE, image_devices: tuple[str, ...] = ()
) -> dict[str, drv.Verdict]:
    output = (FIXTURES / fixture).read_text()
    found = drv.judge_all(drv.parse_lsblk(output), image_size=image_size, image_devices=image_devices)
    return {v.drive.path: v for v in found}


def offered(found: dict[str, drv.Verdict]) -> list[str]:
    return sorted(path for path, v in found.items() if v.offered and not v.hidden)


def test_laptop_offers_the_usb_stick_and_refuses_the_nvme_system_disk() -> None:
    found = verdicts("laptop-nvme-usb-stick.json", image_devices=("nvme0n1p3", "nvme0n1"))
    assert offered(found) == ["/dev/sda"]
    stick = found["/dev/sda"]
    assert stick.drive.model == "Ultra" and stick.drive.serial == "4C530001230321117253"
    assert stick.drive.size == 30752636928 and stick.warnings == ()
    assert "30.8 GB" in stick.drive.label and "4C530001230321117253" in stick.drive.label
    nvme = found["/dev/nvme0n1"]
    assert any("system disk" in r and "/" in r for r in nvme.refusals)
    assert any("holds the image file itself" in r for r in nvme.refusals)
    # the snaps' loop devices are system (mounted below /snap) and left out of the list
    assert found["/dev/loop0"].hidden and not found["/dev/loop0"].offered


def test_the_stick_holding_the_image_is_refused() -> None:
    found = verdicts("laptop-nvme-usb-stick.json", image_devices=("sda1", "sda"))
    assert offered(found) == []
    assert found["/dev/sda"].refusals == ("/dev/sda holds the image file itself (on sda, sda1)",)


def test_sd_card_reader_offers_the_card_not_the_empty_slot_nor_the_sata_system_disk() -> None:
    found = verdicts("sd-card-reader.json")
    assert offered(found) == ["/dev/mmcblk0"]
    assert found["/dev/mmcblk0"].drive.removable
    assert found["/dev/sdb"].refusals == ("/dev/sdb has no medium in it (size 0)",)
    assert found["/dev/sda"].refusals == (
        "/dev/sda is a system disk: it holds the running system's /boot/efi",
    )


def test_a_loop_device_backing_root_is_system_and_a_spare_loop_is_offered() -> None:
    found = verdicts("loop-backing-root.json")
    root = found["/dev/loop0"]
    assert "/dev/loop0 is a system disk: it holds the running system's /" in root.refusals
    assert root.hidden  # not in the list, but refused when named
    assert found["/dev/loop1"].hidden  # unbound
    assert found["/dev/sr0"].hidden and "/dev/sr0 is a rom, not a whole drive" in found["/dev/sr0"].refusals
    assert found["/dev/zram0"].hidden
    # the live stick the machine runs from is mounted: refused until unmounted
    assert found["/dev/sda"].refusals == (
        "/dev/sda has mounted file systems (/run/live/medium): unmount them first",
    )
    assert offered(found) == ["/dev/loop2"]


def test_a_locked_card_is_refused_as_read_only_from_old_lsblk_output() -> None:
    found = verdicts("read-only-card.json")  # util-linux 2.34: "0"/"1" strings, one "mountpoint"
    assert offered(found) == []
    card = found["/dev/sdb"]
    assert card.drive.read_only and card.drive.size == 63864569856
    assert card.refusals == ("/dev/sdb is read-only (a locked SD card or a write-protected stick)",)
    assert card.drive.model == "SD/MMC"  # padding stripped
    assert "system disk" in found["/dev/sda"].refusals[0]


def test_too_small_stick_refused_and_128_gb_disk_offered_with_a_warning() -> None:
    found = verdicts("small-stick-and-128g-disk.json", image_size=2 * 1024**3)
    small = found["/dev/sdb"]
    assert small.refusals == (
        "/dev/sdb is too small: 1.0 GB (1015808000 bytes), the image needs 2.1 GB (2147483648 bytes)",
    )
    big = found["/dev/sdc"]
    assert big.offered
    assert big.warnings == (
        "/dev/sdc is larger than 64 GB (128.0 GB): make sure it is the stick you mean and not a backup disk",
    )
    # the encrypted root below a partition still marks the NVMe as the system disk
    assert (
        "/dev/nvme0n1 is a system disk: it holds the running system's /boot" in found["/dev/nvme0n1"].refusals
    )
    assert offered(found) == ["/dev/sdc"]


def test_a_smaller_image_fits_the_small_stick_and_an_unknown_size_is_a_warning() -> None:
    assert verdicts("small-stick-and-128g-disk.json", image_size=900_000_000)["/dev/sdb"].offered
    unknown = verdicts("small-stick-and-128g-disk.json", image_size=None)["/dev/sdb"]
    assert unknown.offered and "does not state its size" in unknown.warnings[0]


def test_a_partition_named_is_refused() -> None:
    output = (FIXTURES / "laptop-nvme-usb-stick.json").read_text()
    part = next(d for d in drv.all_devices(output) if d.path == "/dev/sda1")
    verdict = drv.judge(part, image_size=IMAGE)
    assert "/dev/sda1 is a partition of /dev/sda: name the whole drive" in verdict.refusals


@pytest.mark.parametrize(
    ("size", "shown"),
    [(30752636928, "30.8 GB"), (1015808000, "1.0 GB"), (5_000_000, "5.0 MB"), (512, "512 B")],
)
def test_sizes_are_shown_in_decimal_units_as_drives_are_sold(size: int, shown: str) -> None:
    assert drv.format_size(size) == shown


def test_devices_of_a_file_names_its_disk(tmp_path: Path) -> None:
    here = tmp_path / "image.raw"
    here.write_bytes(b"x")
    found = drv.devices_of(here)
    lsblk = drv.parse_lsblk(drv.read_lsblk())
    names = {n for d in lsblk for n in d.names}
    if not found:
        pytest.skip("the test folder is on a file system without a block device (tmpfs, overlay)")
    assert found & names, f"{found} not among lsblk's devices {names}"


def test_devices_of_follows_partitions_and_stacked_devices(tmp_path: Path) -> None:
    """A file on dm-crypt on /dev/sdb2 names sdb: the stick holding the image is refused."""
    sys_root = tmp_path / "sys"
    sdb = sys_root / "devices" / "usb" / "block" / "sdb"
    (sdb / "sdb2").mkdir(parents=True)
    (sdb / "sdb2" / "partition").write_text("2\n")
    dm = sys_root / "devices" / "virtual" / "block" / "dm-0"
    (dm / "slaves").mkdir(parents=True)
    (dm / "slaves" / "sdb2").symlink_to(sdb / "sdb2")
    here = tmp_path / "image.raw"
    here.write_bytes(b"x")
    st = here.stat()
    (sys_root / "dev" / "block").mkdir(parents=True)
    (sys_root / "dev" / "block" / f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}").symlink_to(dm)
    assert drv.devices_of(here, sys_root=str(sys_root)) == {"dm-0", "sdb2", "sdb"}
