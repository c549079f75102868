"""Displays: vfb and the vnc/sdl/spice keys → graphics, vga → video, a tablet.

xl turns VNC on by default, for a vfb and for an HVM guest (unless
``nographic=1``), so a KVM domain gets a VNC display in the same cases. A
PV guest's framebuffer (xen-fbfront) becomes an emulated VGA card.
"""

from __future__ import annotations

from xenshift.config.devices import VfbSpec, format_vfb
from xenshift.config.model import GuestType
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import (CharDevice, Graphics, Input,
                                                 Redirdev, Video)

_VNC_KEYS = ("vnc", "vnclisten", "vncdisplay", "vncunused", "vncpasswd", "keymap")
_SDL_KEYS = ("sdl", "opengl", "display", "xauthority")
_SPICE_KEYS = ("spice", "spicehost", "spiceport", "spicetls_port",
               "spicedisable_ticketing", "spicepasswd", "spiceagent_mouse",
               "spice_clipboard_sharing", "spice_image_compression",
               "spice_streaming_video")
RULES = (
    KvmRule("vfb", "devices/graphics",
            "each PV framebuffer → vnc and/or sdl graphics, plus a VGA video card"),
    *(KvmRule(key, "devices/graphics[@type='vnc']",
              "listen address, port 5900+vncdisplay (else autoport), passwd, keymap")
      for key in _VNC_KEYS),
    *(KvmRule(key, "devices/graphics[@type='sdl']", "display, xauth and gl of the SDL window")
      for key in _SDL_KEYS),
    *(KvmRule(key, "devices/graphics[@type='spice']",
              "port, tlsPort, listen, passwd (unless ticketing is off), mouse, "
              "clipboard, image compression and streaming")
      for key in _SPICE_KEYS),
    KvmRule("spicevdagent", "devices/channel[@type='spicevmc']",
            "the SPICE agent channel com.redhat.spice.0"),
    KvmRule("spiceusbredirection", "devices/redirdev", "one spicevmc USB redirection per channel"),
    KvmRule("nographic", "devices/graphics", "nographic=1: no graphics and no video card"),
    KvmRule("vga", "devices/video/model/@type",
            "stdvga → vga, cirrus, qxl, none kept (xl's default cirrus)"),
    KvmRule("stdvga", "devices/video/model/@type", "stdvga=1 → vga"),
    KvmRule("videoram", "devices/video/model/@vram", "MiB → KiB"),
)

_VGA_MODELS = {"stdvga": "vga", "cirrus": "cirrus", "qxl": "qxl", "none": "none"}
VNC_BASE_PORT = 5900


def apply(ctx: MapContext) -> None:
    """Graphics, video and a USB tablet for the pointer."""
    hvm = ctx.config.guest_type is GuestType.HVM
    if ctx.flag("nographic", False):
        _no_display(ctx)
        return
    if ctx.is_set("nographic"):
        ctx.kept("nographic", "graphics as configured")
    graphics = _vfb_graphics(ctx) if ctx.config.vfbs else _top_level_graphics(ctx, hvm)
    graphics += _spice(ctx)
    ctx.domain.devices.extend(graphics)
    _video(ctx, hvm, bool(graphics))
    if graphics and not any(isinstance(d, Input) and d.type == "tablet"
                            for d in ctx.domain.devices):
        ctx.domain.devices.append(Input("tablet", "usb"))
        ctx.added("input tablet", "usb", "an absolute pointer, so the mouse "
                  "follows the VNC/SPICE client")


def _no_display(ctx: MapContext) -> None:
    ctx.kept("nographic", "no graphics, video model none")
    ctx.domain.devices.append(Video("none"))
    for key in ("vfb", *_VNC_KEYS, *_SDL_KEYS, *_SPICE_KEYS, "spicevdagent",
                "spiceusbredirection", "vga", "stdvga", "videoram"):
        if ctx.is_set(key):
            ctx.dropped(key, "nographic=1: the guest has no display")


def _vfb_graphics(ctx: MapContext) -> list[Graphics]:
    out = []
    for index, vfb in enumerate(ctx.config.vfbs):
        made = _from_vfb(vfb)
        out += made
        ctx.changed("vfb", ", ".join(g.type for g in made) or "none",
                    "the PV framebuffer becomes emulated graphics", item=f"#{index}",
                    before=format_vfb(vfb))
        for item in vfb.unknown:
            ctx.dropped("vfb", "xl ignores this item too", item=f"#{index}", value=item)
    for key in (*_VNC_KEYS, *_SDL_KEYS):
        if ctx.is_set(key):
            ctx.dropped(key, "xl ignores the top-level display keys when vfb= is set")
    return out


def _from_vfb(vfb: VfbSpec) -> list[Graphics]:
    out = []
    if vfb.vnc is not False:      # libxl's default for a vfb: VNC on
        out.append(_vnc(vfb.vnclisten, vfb.vncdisplay, vfb.vncpasswd, vfb.keymap))
    if vfb.sdl:
        out.append(Graphics("sdl", display=vfb.display, xauth=vfb.xauthority,
                            gl=vfb.opengl))
    return out


def _vnc(listen: str | None, display: int | None, passwd: str | None,
         keymap: str | None) -> Graphics:
    """VNC graphics from xl's ``vnclisten`` (``ADDRESS[:DISPLAY]``) and friends."""
    if listen and ":" in listen:
        listen, _, shown = listen.partition(":")
        display = int(shown) if shown.isdigit() and display is None else display
    port = VNC_BASE_PORT + display if display is not None else None
    return Graphics("vnc", port=port, listen=listen or None, passwd=passwd or None,
                    keymap=keymap)


def _top_level_graphics(ctx: MapContext, hvm: bool) -> list[Graphics]:
    s = ctx.settings
    out = []
    vnc = ctx.flag("vnc", hvm)     # libxl: on by default for HVM only
    if vnc:
        out.append(_vnc(s.get_string("vnclisten"), s.get_long("vncdisplay"),
                        s.get_string("vncpasswd"), s.get_string("keymap")))
        if not ctx.is_set("vnc"):
            ctx.added("graphics vnc", "autoport", "xl gives an HVM guest a VNC display by default")
    _report_switched(ctx, _VNC_KEYS, vnc, "vnc")
    if ctx.flag("sdl", False):
        out.append(Graphics("sdl", display=s.get_string("display"),
                            xauth=s.get_string("xauthority"),
                            gl=s.get_bool("opengl")))
        ctx.warn("sdl", "an SDL window needs a display on the KVM host")
    _report_switched(ctx, _SDL_KEYS, ctx.flag("sdl", False), "sdl")
    return out


def _report_switched(ctx: MapContext, keys: tuple[str, ...], on: bool, kind: str) -> None:
    """Report a display's keys: kept when it is on, else its settings dropped."""
    for key in keys:
        if not ctx.is_set(key):
            continue
        if on:
            ctx.kept(key, f"graphics type {kind}")
        elif key == kind:
            ctx.kept(key, f"no {kind} display")
        else:
            ctx.dropped(key, f"{kind} is off")


def _spice(ctx: MapContext) -> list[Graphics]:
    """SPICE graphics and its agent and USB redirection channels."""
    s = ctx.settings
    if not ctx.flag("spice", False):
        _report_switched(ctx, (*_SPICE_KEYS, "spicevdagent", "spiceusbredirection"),
                         False, "spice")
        return []
    ticketing = not ctx.flag("spicedisable_ticketing", False)
    gfx = Graphics("spice", port=s.get_long("spiceport"), tls_port=s.get_long("spicetls_port"),
                   listen=s.get_string("spicehost"),
                   passwd=s.get_string("spicepasswd") if ticketing else None,
                   keymap=s.get_string("keymap"),
                   image_compression=s.get_string("spice_image_compression"),
                   streaming=s.get_string("spice_streaming_video"),
                   clipboard=s.get_bool("spice_clipboard_sharing"),
                   mouse_mode="client" if ctx.flag("spiceagent_mouse", False) else None)
    _report_switched(ctx, _SPICE_KEYS, True, "spice")
    if ctx.flag("spicevdagent", False):
        ctx.domain.devices.append(CharDevice("channel", "spicevmc", target_type="virtio",
                                             target_name="com.redhat.spice.0"))
    if ctx.is_set("spicevdagent"):
        ctx.kept("spicevdagent", "spicevmc channel com.redhat.spice.0")
    redirections = s.get_long("spiceusbredirection") or 0
    ctx.domain.devices.extend(Redirdev() for _ in range(redirections))
    if ctx.is_set("spiceusbredirection"):
        ctx.kept("spiceusbredirection", f"{redirections} usb redirdev")
    return [gfx]


def _video(ctx: MapContext, hvm: bool, has_graphics: bool) -> None:
    vga = ctx.settings.get_string("vga")
    if vga is None and ctx.flag("stdvga", False):
        vga = "stdvga"
    if hvm:
        model = _VGA_MODELS.get(vga or "cirrus", "cirrus")
    elif has_graphics:
        model = "vga"
        ctx.added("video", "vga", "the PV framebuffer is gone; the guest draws "
                  "on an emulated VGA card")
    else:
        model = None
    videoram = ctx.settings.get_long("videoram")
    if model is not None:
        ctx.domain.devices.append(Video(model, videoram * 1024 if videoram and model != "none"
                                        else None))
    for key in ("vga", "stdvga", "videoram"):
        if not ctx.is_set(key):
            continue
        if model is None:
            ctx.dropped(key, "the guest has no graphics")
        elif key == "vga" and vga not in _VGA_MODELS:
            ctx.changed(key, model, f"unknown card {vga!r}; xl's default cirrus")
        elif key == "stdvga" and ctx.is_set("vga"):
            ctx.dropped(key, "vga= wins over the deprecated stdvga=")
        else:
            ctx.kept(key, f"video model {model}")
