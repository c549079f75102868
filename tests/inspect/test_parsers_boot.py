"""grub2, grub-legacy and extlinux configs; device.map."""

from __future__ import annotations

from xenshift.inspect.bootloader import (parse_device_map, parse_extlinux,
                                         parse_grub2_cfg, parse_menu_lst)

GRUB_CFG = """\
function load_video {
  insmod all_video
}
set default="1>0"
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple' {
	load_video
	linux	/boot/vmlinuz-6.1.0-9-amd64 root=/dev/xvda1 ro console=hvc0 quiet
	initrd	/boot/intel-ucode.img /boot/initrd.img-6.1.0-9-amd64
}
submenu 'Advanced options' $menuentry_id_option 'gnulinux-advanced' {
	menuentry 'Debian, with Linux 5.10.0-8-amd64' $menuentry_id_option 'gnulinux-5.10' {
		if [ x$feature_all_video_module = xy ]; then
		  insmod all_video
		fi
		linux	(hd0,msdos1)/boot/vmlinuz-5.10.0-8-amd64 root=/dev/xvda1 ro console=hvc0
		initrd	/boot/initrd.img-5.10.0-8-amd64
	}
	menuentry 'Debian, with Linux 5.10.0-8-amd64 (recovery)' {
		linux	/boot/vmlinuz-5.10.0-8-amd64 root=/dev/xvda1 ro single
	}
}
"""


def test_grub2_entries_flattened_with_cmdlines_and_last_initrd():
    parsed = parse_grub2_cfg(GRUB_CFG, "/boot/grub/grub.cfg")
    assert [e.title for e in parsed.entries] == [
        "Debian GNU/Linux", "Debian, with Linux 5.10.0-8-amd64",
        "Debian, with Linux 5.10.0-8-amd64 (recovery)"]
    first, second, third = parsed.entries
    assert first.kernel == "/boot/vmlinuz-6.1.0-9-amd64"
    assert first.initrd == "/boot/initrd.img-6.1.0-9-amd64"
    assert first.cmdline.args == ("root=/dev/xvda1", "ro", "console=hvc0", "quiet")
    assert (first.cmdline.file, first.cmdline.line) == ("/boot/grub/grub.cfg", 7)
    assert second.kernel == "/boot/vmlinuz-5.10.0-8-amd64"  # (hd0,msdos1) dropped
    assert third.initrd is None and third.cmdline.values("root") == ["/dev/xvda1"]


def test_grub2_default_by_path_number_title_id_and_saved():
    assert parse_grub2_cfg(GRUB_CFG).default_entry == 1  # "1>0"
    swap = GRUB_CFG.replace('set default="1>0"', "set default=1")
    assert parse_grub2_cfg(swap).default_entry == 1  # a submenu boots its first
    by_title = GRUB_CFG.replace('"1>0"', "'Debian, with Linux 5.10.0-8-amd64 (recovery)'")
    assert parse_grub2_cfg(by_title).default_entry == 2
    by_id = GRUB_CFG.replace('"1>0"', "gnulinux-simple")
    assert parse_grub2_cfg(by_id).default_entry == 0
    saved = GRUB_CFG.replace('"1>0"', '"${saved_entry}"')
    assert parse_grub2_cfg(saved, saved_entry="gnulinux-5.10").default_entry == 1
    assert parse_grub2_cfg(saved).default_entry == 0
    assert parse_grub2_cfg(GRUB_CFG.replace('set default="1>0"\n', "")).default_entry == 0


MENU_LST = """\
# comment
default=1
timeout 5
title Xen -- SLES 11 (xen)
    root (hd0,1)
    kernel /boot/vmlinuz-3.0.101-63-xen root=/dev/xvda2 console=xvc0
    initrd /boot/initrd-3.0.101-63-xen
title SLES 11 (default)
    root (hd0,1)
    kernel (hd0,1)/vmlinuz-3.0.101-63-default root=/dev/xvda2 resume=/dev/xvda1
    initrd /initrd-3.0.101-63-default
"""


def test_menu_lst():
    parsed = parse_menu_lst(MENU_LST, "/boot/grub/menu.lst")
    assert [e.title for e in parsed.entries] == ["Xen -- SLES 11 (xen)", "SLES 11 (default)"]
    assert parsed.default_entry == 1
    xen, default = parsed.entries
    assert xen.cmdline.values("console") == ["xvc0"] and xen.cmdline.line == 6
    assert default.kernel == "/vmlinuz-3.0.101-63-default"
    assert default.cmdline.values("resume") == ["/dev/xvda1"]


def test_extlinux():
    text = ("DEFAULT linux\nLABEL rescue\n  KERNEL /boot/vmlinuz-r\n"
            "LABEL linux\n  LINUX /boot/vmlinuz-5\n  APPEND root=/dev/xvda1 initrd=/boot/initrd-5 console=hvc0\n")
    parsed = parse_extlinux(text)
    assert parsed.default_entry == 1
    linux = parsed.entries[1]
    assert (linux.kernel, linux.initrd) == ("/boot/vmlinuz-5", "/boot/initrd-5")
    assert linux.cmdline.args == ("root=/dev/xvda1", "console=hvc0")


def test_device_map():
    entries = parse_device_map("# x\n(hd0)\t/dev/xvda\n(fd0) /dev/fd0\nbogus\n", "/boot/grub/device.map")
    assert [(e.line, e.grub_device, e.os_device) for e in entries] == [
        (2, "(hd0)", "/dev/xvda"), (3, "(fd0)", "/dev/fd0")]


def test_btrfs_entries_are_read_below_the_root_subvolume(tmp_path):
    """GRUB reads btrfs from its top: the root subvolume @'s kernel is
    /@/boot/vmlinuz-… in grub.cfg and /boot/vmlinuz-… in the guest."""
    from xenshift.inspect.bootloader import gather_bootloader
    from xenshift.inspect.files import TreeFiles

    boot = tmp_path / "boot"
    (boot / "grub").mkdir(parents=True)
    for name in ("vmlinuz-6.1.0-9-amd64", "initrd.img-6.1.0-9-amd64"):
        (boot / name).write_bytes(b"")
    (boot / "grub/grub.cfg").write_text(
        "menuentry 'Debian' {\n\tinsmod btrfs\n"
        "\tlinux\t/@/boot/vmlinuz-6.1.0-9-amd64 root=/dev/xvda1 ro\n"
        "\tinitrd\t/@/boot/initrd.img-6.1.0-9-amd64\n}\n"
        "menuentry 'gone' {\n\tlinux\t/@/boot/vmlinuz-5.10 root=/dev/xvda1\n}\n")
    entries = gather_bootloader(TreeFiles(tmp_path)).entries
    assert [(e.kernel, e.initrd) for e in entries] == [
        ("/boot/vmlinuz-6.1.0-9-amd64", "/boot/initrd.img-6.1.0-9-amd64"),
        ("/@/boot/vmlinuz-5.10", None)]
