#!/usr/bin/env python3
"""Installs GRUB's i386-pc boot.img + core.img into a raw MBR disk image file.

What `grub-bios-setup` does for the usual case (core.img embedded in the gap after the MBR,
root on the first partition), done on a plain file: no loop devices, no device probing (which
on a build host would look at the host's own disks). Follows grub-2.06 util/setup.c:
boot.img's code goes into sector 0 around the existing BPB and partition table, with the
kernel sector (0x5c) = 1, boot drive (0x64) = 0xff and the drive check (0x66) turned into NOPs;
core.img goes into sectors 1.., its first sector's blocklist (at 0x1f4) pointing at the rest
(start 2, length nsec-1, segment 0x820) followed by a terminator. No Reed-Solomon codes (as
`grub-bios-setup --no-rs-codes`): the decompressor skips recovery when none were added.

usage: grub-embed.py DISK BOOT_IMG CORE_IMG
"""
import struct
import sys

SECTOR = 512


def main() -> int:
    disk, boot_path, core_path = sys.argv[1:4]
    boot = bytearray(open(boot_path, "rb").read())
    core = bytearray(open(core_path, "rb").read())
    if len(boot) != SECTOR:
        sys.exit(f"grub-embed: {boot_path} is {len(boot)} bytes, expected 512")
    with open(disk, "r+b") as f:
        mbr = bytearray(f.read(SECTOR))
        if mbr[0x1FE:0x200] != b"\x55\xaa":
            sys.exit("grub-embed: no MBR partition table on the disk (run sfdisk first)")
        # First partition's start LBA: the embedding gap is sectors 1 .. start-1.
        first_lba = struct.unpack_from("<I", mbr, 0x1BE + 8)[0]
        core += b"\0" * (-len(core) % SECTOR)
        nsec = len(core) // SECTOR
        if nsec < 2 or 1 + nsec > first_lba:
            sys.exit(f"grub-embed: core.img needs {nsec} sectors, gap has {first_lba - 1}")
        # boot.img: keep the disk's BPB (0x03-0x5a) and NT magic + partition table (0x1b8-0x1fe).
        boot[0x03:0x5A] = mbr[0x03:0x5A]
        boot[0x1B8:0x1FE] = mbr[0x1B8:0x1FE]
        struct.pack_into("<Q", boot, 0x5C, 1)  # GRUB_BOOT_MACHINE_KERNEL_SECTOR
        boot[0x64] = 0xFF  # GRUB_BOOT_MACHINE_BOOT_DRIVE: use the drive the BIOS booted
        boot[0x66:0x68] = b"\x90\x90"  # GRUB_BOOT_MACHINE_DRIVE_CHECK: hard disk workaround
        # diskboot.img's blocklist: one entry for sectors 2.., then a terminator below it.
        struct.pack_into("<QHH", core, SECTOR - 12, 2, nsec - 1, 0x820)
        struct.pack_into("<QHH", core, SECTOR - 24, 0, 0, 0)
        f.seek(0)
        f.write(boot)
        f.seek(SECTOR)
        f.write(core)
    print(f"grub-embed: boot.img in the MBR, core.img in sectors 1-{nsec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
