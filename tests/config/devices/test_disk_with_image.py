"""``with_image``: a disk spec pointed at a converted image, spelling kept."""

from __future__ import annotations

import pytest

from xenshift.config.devices.disk import parse_disk, with_image

NEW = "/out/web-xvda.qcow2"


@pytest.mark.parametrize("text, expected", [
    ("format=raw, vdev=xvda, access=rw, target=/img/a.img",
     f"format=qcow2, vdev=xvda, access=rw, target={NEW}"),
    ("vdev=hda,target=/img/a.img", f"format=qcow2, vdev=hda,target={NEW}"),
    ("  format=raw,vdev=xvda ,target=/img/a,b.img", f"  format=qcow2,vdev=xvda ,target={NEW}"),
    # Positional and block-device spellings get the canonical form, without
    # the marks of a block device.
    ("file:/img/a.img,xvda,w", f"format=qcow2, vdev=xvda, access=rw, target={NEW}"),
    ("phy:/dev/vg/lv,xvda,w", f"format=qcow2, vdev=xvda, access=rw, target={NEW}"),
    ("backendtype=phy, vdev=xvda, target=/dev/sdb",
     f"format=qcow2, vdev=xvda, access=rw, target={NEW}"),
])
def test_with_image(text, expected):
    result = with_image(text, parse_disk(text), NEW, "qcow2")
    assert result == expected
    spec = parse_disk(result)
    assert (spec.target, spec.format, spec.legacy_prefixes) == (NEW, "qcow2", ())
    assert spec.backendtype != "phy"
