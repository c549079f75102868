"""Random xl config texts for differential and property tests.

A seeded generator (not hypothesis) so that the differential test runs the
same 1,500 texts every time and stays fast; a quarter of them are mutated
with the mistakes real files carry, so rejection is exercised as much as
acceptance.
"""

from __future__ import annotations

import random

REAL_KEYS = ["name", "memory", "maxmem", "vcpus", "disk", "vif", "type",
             "builder", "kernel", "ramdisk", "extra", "root", "cmdline",
             "bootloader", "on_crash", "uuid", "cpus", "pci", "vfb",
             "serial", "vnuma", "usbdevice", "device_model_args"]
ESCAPES = ["\\n", "\\t", "\\\\", "\\\"", "\\'", "\\a", "\\b", "\\f", "\\r",
           "\\v", "\\101B", "\\1 2", "\\1-12"]
BAD_ESCAPES = ["\\x41", "\\q", "\\0", "\\12", "\\9"]
MUTATIONS = ["-", ".", "(", ")", ":", "+", "A", "_", "\r", "\v", "True",
             "é", "\"", "'", "[", "]", ",", "=", "hvm", "0x", "1.5", "-3",
             "\\x41"]


class ConfigGenerator:
    """Builds config texts from a seeded random source."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def key(self) -> str:
        rng = self.rng
        if rng.random() < 0.6:
            return rng.choice(REAL_KEYS)
        first = rng.choice("abcdefghijklmnopqrstuvwxyz")
        rest = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789._")
                       for _ in range(rng.randint(0, 8)))
        return first + rest

    def number(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.5:
            return str(rng.randint(0, 100000))
        if kind < 0.7:
            return hex(rng.randint(0, 2**40))
        if kind < 0.85:
            return "0" + oct(rng.randint(0, 4096))[2:]
        return rng.choice(["09", "0x", "1a", "1e5", "0b1", "00x1", "0xfff",
                           "99999999999999999999", "9223372036854775807",
                           "9223372036854775808", "0"])

    def string(self, allow_bad: bool = False) -> str:
        rng = self.rng
        quote = rng.choice("\"'")
        parts = []
        for _ in range(rng.randint(0, 6)):
            r = rng.random()
            if r < 0.55:
                parts.append("".join(rng.choice(
                    "abcxyz019 ,=:/.-_[]#;é\t") for _ in range(rng.randint(1, 6))))
            elif r < 0.75:
                parts.append(rng.choice(ESCAPES))
            elif r < 0.85:
                parts.append("\"" if quote == "'" else "'")
            elif allow_bad:
                parts.append(rng.choice(BAD_ESCAPES))
        return quote + "".join(parts) + quote

    def value(self, depth: int = 0) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return self.string(allow_bad=rng.random() < 0.05)
        if r < 0.7 or depth >= 2:
            return self.number()
        return self.list(depth + 1)

    def gap(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            return rng.choice(["", " ", "  ", "\t"])
        if r < 0.8:
            return "\n" + rng.choice(["", "  ", "\t"])
        return rng.choice([" # note\n", "\n# comment line\n", "\n\n"])

    def list(self, depth: int) -> str:
        rng = self.rng
        items = [self.value(depth) for _ in range(rng.randint(0, 4))]
        out = "[" + self.gap()
        for i, item in enumerate(items):
            out += item + self.gap()
            if i < len(items) - 1 or rng.random() < 0.3:
                out += "," + self.gap()
        return out + "]"

    def statement(self) -> str:
        rng = self.rng
        op = "+=" if rng.random() < 0.15 else "="
        sp = lambda: rng.choice(["", " ", "\t", "  "])  # noqa: E731
        return f"{sp()}{self.key()}{sp()}{op}{sp()}{self.value()}{sp()}"

    def config(self) -> str:
        rng = self.rng
        out = []
        if rng.random() < 0.3:
            out.append("# generated config\n")
        for _ in range(rng.randint(1, 12)):
            out.append(self.statement())
            r = rng.random()
            if r < 0.1:
                out.append(";")
            elif r < 0.2:
                out.append(" # trailing comment\n")
            else:
                out.append("\n")
            if rng.random() < 0.1:
                out.append("\n")
        text = "".join(out)
        if rng.random() < 0.05:
            text = text.rstrip("\n")  # last statement without a newline
        return text

    def mutate(self, text: str) -> str:
        """Insert one realistic mistake at a random place."""
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            return text + "# final comment without newline"
        if r < 0.2:
            return text.replace("\n", "\r\n", 1)
        pos = rng.randint(0, len(text))
        return text[:pos] + rng.choice(MUTATIONS) + text[pos:]


def generated_configs(count: int, seed: int = 20261126) -> list[str]:
    """``count`` texts, about a quarter of them mutated."""
    gen = ConfigGenerator(seed)
    texts = []
    for i in range(count):
        text = gen.config()
        if i % 4 == 3:
            text = gen.mutate(text)
        texts.append(text)
    return texts
