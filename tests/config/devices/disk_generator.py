"""Random disk spec strings, valid and not, for the libxlu differential test.

A seeded generator (not hypothesis) so that every run checks the same
strings and stays fast. It mixes xm positional specs, key=value specs and
both, with legacy prefixes and stray blanks. Each choice is usually a valid
word and sometimes a wrong one, and a fifth of the strings get one
character inserted, dropped or doubled, so that libxlu accepts about half.
``trusted`` and ``untrusted`` come in as words (targets, to Xen 4.17);
``grant_usage=`` is left out, as 4.17 knows no such key.
"""

from __future__ import annotations

import random

from tests.config.devices.choices import pick

# Each pool: (values that can be right, values that are wrong or odd).
TARGETS = (["/dev/vg/guest", "/srv/xen/disk.img", "/root/image.iso", "", "/p with space ",
            "iqn.2001-05.com.example:storage", "host:1234", "app01", "/é/x"],
           ["cdrom", "discard", "trusted", "w", "hda", "raw", "a=b"])
FORMATS = (["raw", "qcow", "qcow2", "vhd", "qed", "empty", ""], ["vmdk", "RAW"])
VDEVS = (["xvda", "hda", "hdc", "sdb", "xvda1", "hdc:cdrom", "xvdb:disk", "d0p1"],
         ["hdc:floppy", "", "a:b:cdrom"])
ACCESS = (["r", "ro", "rw", "w", ""], ["w!", "x", "RW"])
KEYED = {
    "format": FORMATS,
    "vdev": VDEVS,
    "access": ACCESS,
    "devtype": (["cdrom", "disk"], ["floppy", "", "cdromx"]),
    "backend": (["driverdom", "", "0"], []),
    "backendtype": (["phy", "qdisk", "tap", "standalone"], ["xen", ""]),
    "specification": (["xen", "virtio"], ["scsi", ""]),
    "script": (["block-iscsi", "", "/etc/xen/scripts/block-drbd"], []),
    "colo-host": (["10.0.0.1", ""], []),
    "colo-port": (["7000", "12x", " -3"], ["0", "x", ""]),
    "colo-export": (["e1", ""], []),
    "active-disk": (["/a.img"], []),
    "hidden-disk": (["/h.img"], []),
}
UNKNOWN_KEYS = ["size=10G", "foo=", "foo=bar", "Foo=bar", "colo_port=1", "grant-usage=1"]
FLAGS = (["cdrom", "direct-io-safe", "discard", "no-discard", "colo", "no-colo"],
         ["cdromx", "discardx", "no-trusted", "trusted", "untrusted"])
PREFIXES = (["phy:", "file:", "tap:aio:", "tap2:", "tapdisk:", "aio:", "ioemu:", "raw:",
             "qcow:", "qcow2:", "vhd:", "iscsi:", "nbd:", "enbd:", "drbd:", "tap:qcow2:",
             "phy:raw:"],
            ["foo:", "Phy:", "x1:", "raw:qcow2:"])
SEPARATORS = [",", ",", ",", ", ", ",  ", ",\t", ",,"]
# Pieces of disk syntax, glued at random by word_soup.
PIECES = ["format=", "vdev=", "access=", "target=", "devtype=", "backendtype=", "script=",
          "specification=", "colo-port=", "cdrom", "disk", "empty", "raw", "qcow2", "phy",
          "virtio", "discard", "no-", "colo", "trusted", "phy:", "tap:", "aio:", "iscsi:",
          ":cdrom", ":disk", "r", "w", "xvda", "hdc", "x", "é", "!", ":", "/", "=", " ",
          "\t", ",", ",", ","]
# No newline: a stray character before one makes libxlu's flex scanner
# abort the whole process (see test_disk_vs_libxlu).
JUNK = ["=", ",", ":", " ", "\t", "!", "é", "a"]


class DiskSpecGenerator:
    """Disk spec strings from a seeded random source."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def spec(self) -> str:
        """One spec string, valid or not."""
        style = self.rng.choice([self._positional, self._keyed, self._mixed])
        items = style()
        text = items[0] + "".join(self.rng.choice(SEPARATORS) + item for item in items[1:])
        if self.rng.random() < 0.15:
            text = self.rng.choice([" ", "\t", "  "]) + text
        if self.rng.random() < 0.2:
            text = self._mutate(text)
        return text

    def word_soup(self) -> str:
        """A string of syntax pieces glued at random, mostly invalid."""
        return "".join(self.rng.choice(PIECES) for _ in range(self.rng.randint(1, 10)))

    def _pick(self, pool: tuple[list[str], list[str]]) -> str:
        return pick(self.rng, *pool)

    def _positional(self) -> list[str]:
        prefix = self._pick(PREFIXES) if self.rng.random() < 0.4 else ""
        slots = [prefix + self._pick(TARGETS), self._pick(FORMATS),
                 self._pick(VDEVS), self._pick(ACCESS)]
        if prefix or self.rng.random() < 0.3:
            del slots[1]   # xm's fmt:target,vdev,access has no format slot
        count = self.rng.choice([1, 2, len(slots), len(slots), len(slots), len(slots) + 1])
        items = slots[:count] + (["extra"] if count > len(slots) else [])
        if self.rng.random() < 0.2:
            items.append(self._pick(FLAGS))
        return items

    def _keyed(self) -> list[str]:
        items = [self._key_item() for _ in range(self.rng.randint(0, 4))]
        items += [self._pick(FLAGS) for _ in range(self.rng.randint(0, 2))]
        if self.rng.random() < 0.9:
            items.append(f"vdev={self._pick(VDEVS)}")
        self.rng.shuffle(items)
        if self.rng.random() < 0.9:
            target = self._pick(TARGETS)
            items.append(f"target={target}" + self.rng.choice(["", "", ",", ",,", ", x=y"]))
        return items or [""]

    def _mixed(self) -> list[str]:
        items = self._positional() + [self._key_item()
                                      for _ in range(self.rng.randint(1, 2))]
        self.rng.shuffle(items)
        return items

    def _key_item(self) -> str:
        if self.rng.random() < 0.05:
            return self.rng.choice(UNKNOWN_KEYS)
        key = self.rng.choice(list(KEYED))
        return f"{key}={self._pick(KEYED[key])}"

    def _mutate(self, text: str) -> str:
        at = self.rng.randrange(len(text) + 1)
        action = self.rng.choice(["insert", "drop", "double"])
        if action == "insert":
            return text[:at] + self.rng.choice(JUNK) + text[at:]
        if action == "drop":
            return text[:at] + text[at + 1:]
        return text[:at] + text[at:at + 1] * 2 + text[at + 1:]
