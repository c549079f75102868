"""Our disk parser against Xen's own: ``xlu_disk_parse`` from Debian's Xen 4.17.

Both must accept or both reject each string; when both accept, every field
libxlu sets must match. Xen added the words ``trusted``, ``untrusted`` and
``grant_usage=`` to the scanner after 4.17; we read them by default, so the
comparison uses our ``xen417`` mode, and the last test pins the difference.
No divergence is left.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings

from tests.config.devices.disk_generator import DiskSpecGenerator
from tests.config.devices.strategies import disk_specs
from tests.oracles.libxlu_build import DEFAULT_CACHE
from tests.oracles.libxlu_disk import xlu_parse_disk
from xenshift.config.devices.disk import DiskSpec, format_disk, parse_disk
from xenshift.errors import SpecError

# Every form, starting with those of Xen's tools/xl/check-xl-disk-parse
# (there, space-separated words are separate xl arguments; in a config
# each disk is one string, where they are one item).
HAND_CASES = [
    "foo",
    "/dev/vg/guest-volume,,hda",
    "/dev/vg/guest-volume,raw,hda,rw",
    "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
    "format=raw  vdev=hda  access=rw  target=/dev/vg/guest-volume",
    "format=raw,vdev=hda,access=rw,target=/dev/vg/guest-volume",
    "raw:/dev/vg/guest-volume,hda,w",
    "/root/image.iso,,hdc,cdrom",
    "/root/image.iso,,hdc,,cdrom",
    "/root/image.iso,raw,hdc,devtype=cdrom",
    "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
    "raw:/root/image.iso,hdc:cdrom,ro",
    "backendtype=phy,vdev=xvdb,access=w,target=/dev/vg/guest-volume",
    "devtype=cdrom,,,hdc",
    ",,hdc:cdrom,r",
    ",hdc:cdrom,r",
    "vdev=hdc,access=r,devtype=cdrom,target=",
    ",empty,hdc:cdrom,r",
    "vdev=hdc,access=r,devtype=cdrom,format=empty",
    "vdev=hdc,access=r,devtype=cdrom",
    "iscsi:iqn.2001-05.com.equallogic:0-8a0906-23fe93404-c82797962054a96d-examplehost,xvda,w",
    "vdev=xvda,access=w,script=block-iscsi,target=iqn.2001-05.com.equallogic:0-8a0906-23fe93404"
    "-c82797962054a96d-examplehost",
    "drbd:app01,hda,w",
    " discard vdev=hda target=/some/disk/image.raw",
    "discard,vdev=hda,target=/some/disk/image.raw",
    "cdrom,no-discard,vdev=hda,target=/some/disk/image.iso",
    "trusted,vdev=hda,target=/some/disk/image.raw",
    "untrusted,vdev=hda,target=/some/disk/image.raw",
    # Every key, flag and value.
    "format=qcow,vdev=xvda,target=/x", "format=qcow2,vdev=xvda,target=/x",
    "format=vhd,vdev=xvda,target=/x", "format=qed,vdev=xvda,target=/x",
    "format=empty,vdev=xvda,target=/x", "format=vmdk,vdev=xvda,target=/x",
    "format=,vdev=xvda,target=/x", "format=raw,format=qcow2,vdev=xvda,target=/x",
    "access=r,vdev=xvda,target=/x", "access=ro,vdev=xvda,target=/x",
    "access=w,vdev=xvda,target=/x", "access=,vdev=xvda,target=/x",
    "access=w!,vdev=xvda,target=/x", "access=!,vdev=xvda,target=/x",
    "devtype=disk,vdev=xvda,target=/x", "devtype=floppy,vdev=xvda,target=/x",
    "devtype=cdromx,vdev=xvda,target=/x", "cdrom,devtype=disk,vdev=xvda,target=/x",
    "backend=driverdom,vdev=xvda,target=/x", "backend=a,backend=b,vdev=xvda,target=/x",
    "backend=,backend=b,vdev=xvda,target=/x",
    "backendtype=qdisk,vdev=xvda,target=/x", "backendtype=tap,vdev=xvda,target=/x",
    "backendtype=standalone,vdev=xvda,target=/x", "backendtype=xen,vdev=xvda,target=/x",
    "backendtype=phy,backendtype=tap,vdev=xvda,target=/x",
    "specification=xen,vdev=xvda,target=/x", "specification=virtio,vdev=xvda,target=/x",
    "specification=scsi,vdev=xvda,target=/x",
    "script=block-drbd,vdev=xvda,target=/x", "script=a,script=b,vdev=xvda,target=/x",
    "direct-io-safe,vdev=xvda,target=/x", "discard,no-discard,vdev=xvda,target=/x",
    "colo,colo-host=10.0.0.1,colo-port=7000,colo-export=e,active-disk=/a,hidden-disk=/h,"
    "vdev=xvda,target=/x",
    "no-colo,vdev=xvda,target=/x", "colo-port=0,vdev=xvda,target=/x",
    "colo-port=12x,vdev=xvda,target=/x", "colo-port= -3,vdev=xvda,target=/x",
    "vdev=xvda,vdev=xvdb,target=/x", "vdev=,vdev=xvdb,target=/x", "vdev=,target=/x",
    "/x,,xvda,target=/y", "target=,/y,xvda",
    # target= takes the rest of the string, less one trailing comma.
    "vdev=xvda,target=/a,b=c, d ", "vdev=xvda,target=/a,", "vdev=xvda,target=/a,,",
    "target=/a,vdev=xvda",
    # Unknown parameters and bad syntax.
    "foo=bar,vdev=xvda,target=/x", "foo=,vdev=xvda,target=/x", "Foo=bar,vdev=xvda,target=/x",
    "=x,vdev=xvda,target=/x", "vdev=xvda,target=/x,", "size=10G,/x,,xvda",
    "/x,raw,hda,rw,extra", "/x,raw", "vdev=xvda", "access=r", "", ",", " ", "\t/x,,xvda",
    "/x\n,,xvda", "vdev=xvda,target=/x\ny", "/é,,xvda", "foo=é,xvda",
    # A stray last character is ignored (flex reaches the end first).
    "/x,,xvda=", "/x,,xvda!", "vdev=xvda,target=/x\n=", "vdev=xvda,target=/x\n==",
    # Legacy prefixes.
    "phy:/dev/sda,xvda,w", "file:/x.img,xvda1,w", "tap:aio:/x.img,xvda,w",
    "tap:qcow2:/x.img,xvda,w", "tap2:tapdisk:ioemu:/x,hda,w", "aio:/x,hda,w",
    "qcow:/x,hda,w", "qcow2:/x,hda,w", "vhd:/x,hda,r", "nbd:host:1234,xvda,w",
    "enbd:h,xvda,w", "iscsi:iqn,script=block-x,vdev=xvda", "phy:raw:/dev/sda,xvda,w",
    "raw:qcow2:/x,xvda,w", "foo:/x,xvda,w", "Phy:/x,xvda,w", "x1:/x,xvda,w", "phy:,xvda",
    "phy:,,xvda", "phy:", "phy:/x,raw,xvda,w", "/x,,xvda:floppy", "/x,,xvda:cdrom,w",
    "/x,hdc:cdrom,w", ",hdc:cdrom:disk,r", "cdromx,,xvda", "cdrom,,xvda",
]

COMPARED = ("target", "vdev", "format", "readwrite", "is_cdrom", "removable", "script",
            "backend_domain", "backendtype", "specification", "direct_io_safe", "discard",
            "colo", "colo_host", "colo_port", "colo_export", "active_disk", "hidden_disk",
            "trusted")


def our_fields(spec: DiskSpec) -> dict[str, object]:
    """Our spec in the oracle's terms."""
    values = {name: getattr(spec, name) for name in COMPARED if name != "backend_domain"}
    return {**values, "backend_domain": spec.backend}


def disagreement(libxlu, text: str) -> str | None:
    """Why our parse and libxlu's differ on ``text``, or None if they agree."""
    theirs = xlu_parse_disk(libxlu, text)
    try:
        ours = our_fields(parse_disk(text, xen417=True))
    except SpecError as error:
        if theirs.value is None:
            return None
        return f"{text!r}: we reject ({error}), libxlu gives {theirs.value}"
    if theirs.value is None:
        return f"{text!r}: libxlu rejects ({theirs.report.strip()}), we give {ours}"
    if ours != theirs.value:
        diff = {key: (ours[key], theirs.value[key])
                for key in ours if ours[key] != theirs.value[key]}
        return f"{text!r}: fields differ (ours, libxlu's): {diff}"
    return None


def assert_all_agree(libxlu, texts: list[str]) -> None:
    """Fail listing the first disagreements, if any."""
    problems = [problem for text in texts if (problem := disagreement(libxlu, text))]
    assert not problems, f"{len(problems)} disagreements, e.g.:\n" + "\n".join(problems[:10])


def test_hand_cases_cover_acceptance_and_rejection(libxlu):
    verdicts = Counter(xlu_parse_disk(libxlu, text).value is None for text in HAND_CASES)
    assert verdicts[True] >= 30 and verdicts[False] >= 60


@pytest.mark.parametrize("text", HAND_CASES)
def test_hand_case(libxlu, text):
    assert disagreement(libxlu, text) is None


def test_generated_specs(libxlu):
    generator = DiskSpecGenerator(seed=20241126)
    texts = [generator.spec() for _ in range(1500)]
    verdicts = Counter(xlu_parse_disk(libxlu, text).value is None for text in texts)
    assert verdicts[True] > 300 and verdicts[False] > 300, verdicts
    assert_all_agree(libxlu, texts)


def test_word_soup(libxlu):
    generator = DiskSpecGenerator(seed=7)
    assert_all_agree(libxlu, [generator.word_soup() for _ in range(3000)])


@settings(max_examples=300)
@given(spec=disk_specs(newer_words=False))
def test_libxlu_reads_our_canonical_text_as_we_do(libxlu, spec):
    theirs = xlu_parse_disk(libxlu, format_disk(spec))
    assert theirs.value == our_fields(spec), theirs.report


@pytest.mark.parametrize("text, field, value", [
    ("grant_usage=1,vdev=xvda,target=/x", "grant_usage", True),
    ("trusted,vdev=xvda,target=/x", "trusted", True),
    ("untrusted,vdev=xvda,target=/x", "trusted", False),
])
def test_words_newer_than_xen_4_17(libxlu, text, field, value):
    # 4.17 reads "trusted" as the target (then "target respecified") and
    # fails at the "=" of "grant_usage="; newer Xen sets the field.
    assert xlu_parse_disk(libxlu, text).value is None
    with pytest.raises(SpecError):
        parse_disk(text, xen417=True)
    assert getattr(parse_disk(text), field) == value


def test_trusted_is_a_target_to_xen_4_17(libxlu):
    text = "trusted,,xvda"
    assert xlu_parse_disk(libxlu, text).value["target"] == "trusted"
    assert parse_disk(text, xen417=True).target == "trusted"
    with pytest.raises(SpecError, match="unknown value for format 'xvda'"):
        parse_disk(text)   # a flag, then an empty target, then the format slot


def test_a_stray_character_before_a_newline_aborts_libxlu(libxlu):
    # Run in a child: flex's "scanner jammed" exits the whole process.
    text = "vdev=xvda,target=/x\n=\nfoo"
    child = ("import sys; from pathlib import Path; "
             "from tests.oracles.libxlu_build import load_libxlu; "
             "from tests.oracles.libxlu_disk import xlu_parse_disk; "
             "xlu_parse_disk(load_libxlu(Path(sys.argv[1])), sys.argv[2])")
    result = subprocess.run([sys.executable, "-c", child, str(DEFAULT_CACHE), text],
                            cwd=DEFAULT_CACHE.parents[1], capture_output=True, text=True)
    assert (result.returncode, result.stderr.strip()) == (2, "flex scanner jammed")
    with pytest.raises(SpecError, match="xl aborts: flex scanner jammed"):
        parse_disk(text)
