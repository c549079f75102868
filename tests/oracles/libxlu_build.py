"""A cffi API-mode binding to Debian's libxlutil (Xen 4.17), built on demand.

The C compiler lays out libxl's structs (the ``...`` in the declarations), so
the binding follows whatever libxl.h is installed instead of a copy of it.
The extension is compiled into a cache directory under a name derived from
its declarations, so a session pays for the compiler only when they change.
"""

from __future__ import annotations

import hashlib
import importlib.util
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import cffi

CDEF = """
typedef struct XLU_Config XLU_Config;
typedef struct { ...; } libxl_defbool;
typedef int... libxl_disk_format;
typedef int... libxl_disk_backend;
typedef int... libxl_disk_specification;
typedef int... libxl_rdm_reserve_policy;

typedef struct {
    char *backend_domname;
    char *pdev_path;
    char *vdev;
    libxl_disk_backend backend;
    libxl_disk_format format;
    char *script;
    int removable;
    int readwrite;
    int is_cdrom;
    bool direct_io_safe;
    libxl_defbool discard_enable;
    libxl_disk_specification specification;
    libxl_defbool colo_enable;
    char *colo_host;
    int colo_port;
    char *colo_export;
    char *active_disk;
    char *hidden_disk;
    libxl_defbool trusted;
    ...;
} libxl_device_disk;

typedef struct {
    uint8_t func;
    uint8_t dev;
    uint8_t bus;
    int domain;
    uint32_t vdevfn;
    uint32_t vfunc_mask;
    bool msitranslate;
    bool power_mgmt;
    bool permissive;
    bool seize;
    libxl_rdm_reserve_policy rdm_policy;
    char *name;
    ...;
} libxl_device_pci;

typedef struct {
    uint64_t rate_bytes_per_interval;
    uint32_t rate_interval_usecs;
    ...;
} libxl_device_nic;

XLU_Config *xlu_cfg_init(FILE *report, const char *report_filename);
void xlu_cfg_destroy(XLU_Config *cfg);
int xlu_disk_parse(XLU_Config *cfg, int nspecs, const char *const *specs,
                   libxl_device_disk *disk);
int xlu_pci_parse_spec_string(XLU_Config *cfg, libxl_device_pci *pci,
                              const char *str);
int xlu_vif_parse_rate(XLU_Config *cfg, const char *rate,
                       libxl_device_nic *nic);

void libxl_device_disk_init(libxl_device_disk *p);
void libxl_device_disk_dispose(libxl_device_disk *p);
void libxl_device_pci_init(libxl_device_pci *p);
void libxl_device_pci_dispose(libxl_device_pci *p);
void libxl_device_nic_init(libxl_device_nic *p);
void libxl_device_nic_dispose(libxl_device_nic *p);

bool libxl_defbool_is_default(libxl_defbool db);
bool libxl_defbool_val(libxl_defbool db);
const char *libxl_disk_format_to_string(libxl_disk_format p);
const char *libxl_disk_backend_to_string(libxl_disk_backend p);
const char *libxl_disk_specification_to_string(libxl_disk_specification p);
const char *libxl_rdm_reserve_policy_to_string(libxl_rdm_reserve_policy p);

FILE *open_memstream(char **ptr, size_t *sizeloc);
int fclose(FILE *stream);
void free(void *ptr);
"""

SOURCE = """
#include <stdio.h>
#include <stdlib.h>
#include <libxlutil.h>
"""

LIBRARIES = ["xlutil", "xenlight"]
# Git-ignored (/.cache/); a build is reused until the declarations change.
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "oracles"


@dataclass(frozen=True)
class OracleResult:
    """What libxlu made of one string: its fields (None if rejected) and the
    messages it printed."""

    value: dict[str, Any] | None
    report: str


@dataclass(frozen=True)
class Libxlu:
    """The compiled binding: cffi's ``ffi`` and ``lib`` objects."""

    ffi: Any
    lib: Any

    @contextmanager
    def config(self) -> Iterator[tuple[Any, list[str]]]:
        """Yield an ``XLU_Config`` whose report stream is captured.

        The second item is a list that holds the report text once the block
        has ended (libxlu writes its messages to that stream).
        """
        buf = self.ffi.new("char **")
        size = self.ffi.new("size_t *")
        stream = self.lib.open_memstream(buf, size)
        cfg = self.lib.xlu_cfg_init(stream, b"spec")
        report: list[str] = []
        try:
            yield cfg, report
        finally:
            self.lib.xlu_cfg_destroy(cfg)
            self.lib.fclose(stream)
            report.append(self.ffi.string(buf[0], size[0]).decode(errors="replace"))
            self.lib.free(buf[0])

    def parse(self, kind: str, call: Callable[[Any, Any], int],
              read: Callable[[Any], dict[str, Any]]) -> OracleResult:
        """Run one libxlu parser on a fresh ``libxl_device_<kind>``.

        ``call(cfg, device)`` runs the parser and returns its errno;
        ``read(device)`` turns the filled-in device into a dict.
        """
        device = self.ffi.new(f"libxl_device_{kind} *")
        getattr(self.lib, f"libxl_device_{kind}_init")(device)
        try:
            with self.config() as (cfg, report):
                value = None if call(cfg, device) else read(device)
        finally:
            getattr(self.lib, f"libxl_device_{kind}_dispose")(device)
        return OracleResult(value, report[0])

    def text(self, pointer: Any) -> str | None:
        """A C string as ``str``, or None for a NULL pointer."""
        if pointer == self.ffi.NULL:
            return None
        return self.ffi.string(pointer).decode(errors="surrogateescape")

    def defbool(self, value: Any) -> bool | None:
        """A ``libxl_defbool`` as True/False, or None when left at default."""
        if self.lib.libxl_defbool_is_default(value):
            return None
        return bool(self.lib.libxl_defbool_val(value))


def _module_name() -> str:
    digest = hashlib.sha256((CDEF + SOURCE + repr(LIBRARIES)).encode()).hexdigest()
    return f"_xenshift_libxlu_{digest[:16]}"


def _import(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_libxlu(cache_dir: Path) -> Libxlu:
    """Build the binding into ``cache_dir`` unless it is there, and load it."""
    name = _module_name()
    cache_dir.mkdir(parents=True, exist_ok=True)
    built = sorted(cache_dir.glob(f"{name}.*.so"))
    if built:
        path = built[0]
    else:
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        ffi.set_source(name, SOURCE, libraries=LIBRARIES)
        path = Path(ffi.compile(tmpdir=str(cache_dir)))
    module = _import(name, path)
    return Libxlu(ffi=module.ffi, lib=module.lib)
