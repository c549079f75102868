"""Sound, 9p shares, and the virtio RNG every KVM domain gets."""

from __future__ import annotations

from xenshift.config.devices.keyvalue import split_option, xl_items
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import Filesystem, Rng, Sound

RULES = (
    KvmRule("soundhw", "devices/sound/@model", "hda → ich6; ac97, es1370, sb16 kept"),
    KvmRule("p9", "devices/filesystem",
            "virtio-9p mount: path → source/@dir, tag → target/@dir; "
            "security_model none → accessmode squash"),
)

_SOUND_MODELS = {"hda": "ich6", "ac97": "ac97", "es1370": "es1370", "sb16": "sb16"}
# xl's 9pfs security models and libvirt's access modes that behave alike.
_ACCESS_MODES = {"none": "squash", "passthrough": "passthrough", "mapped": "mapped"}


def apply(ctx: MapContext) -> None:
    """Sound card, 9p shares, and a virtio RNG."""
    _sound(ctx)
    _p9(ctx)
    ctx.domain.devices.append(Rng())
    ctx.added("rng", "virtio, /dev/urandom", "guest entropy from the host, "
              "as virt-install adds it")


def _sound(ctx: MapContext) -> None:
    card = ctx.settings.get_string("soundhw")
    if card is None:
        return
    model = _SOUND_MODELS.get(card)
    if model is None:
        ctx.dropped("soundhw", f"no single libvirt sound model for {card!r}")
        return
    ctx.domain.devices.append(Sound(model))
    if model == card:
        ctx.kept("soundhw", f"sound model {model}")
    else:
        ctx.changed("soundhw", model, "libvirt's name for the Intel HDA card")


def _p9(ctx: MapContext) -> None:
    items = ctx.settings.get_string_list("p9") or ()
    for item in items:
        options = dict(split_option(part) for part in xl_items(item.text))
        tag, path = options.get("tag"), options.get("path")
        if not tag or not path:
            ctx.dropped("p9", "needs tag= and path=", item=tag or "?", value=item.text)
            continue
        mode = _ACCESS_MODES.get(options.get("security_model") or "none", "squash")
        ctx.domain.devices.append(Filesystem(path, tag, mode))
        ctx.changed("p9", f"filesystem {path} as {tag}, accessmode {mode}",
                    "virtio-9p: the guest mounts it with -t 9p -o trans=virtio",
                    item=tag, before=item.text)
        if options.get("backend"):
            ctx.dropped("p9", "a Xen backend domain served it", item=tag,
                        value=f"backend={options['backend']}")
