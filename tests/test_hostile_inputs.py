"""Issue 13's hostile and broken inputs, each through the command a user runs.

Every case must end with a clear message (``FILE:LINE:COL`` where there is
a place), a non-zero exit where it is an error, no traceback (the runner
re-raises any exception that is not the project's) and no partial output.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.oracles.libxlu_cfg import xlu_parse
from xenshift.cli.main import cli
from xenshift.cli.xen2hvm import xen2hvm
from xenshift.cli.xen2kvm import xen2kvm
from xenshift.limits import (MAX_DEVICES, MAX_INPUT_BYTES, MAX_NAME_BYTES,
                             MAX_NESTING, MAX_TOKEN_LENGTH)

ROOT = Path(__file__).resolve().parents[1]
LIBVIRT_XEN = ROOT / "fixtures" / "libvirt-xen"
PV_HEAD = 'name = "deep"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 512\n'
DISK = 'disk = [ "phy:/dev/vg/deep,xvda,w" ]\n'


def run(command, *args: str):
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def convert(command, *args: str):
    return run(command, "--config-only", *args)


def nested(depth: int, inner: str = '"bridge=xenbr0"') -> str:
    return "[" * depth + inner + "]" * depth


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def config_command(tmp_path: Path, command: str, text: str | bytes):
    """(source, result) of ``xenshift config COMMAND`` on a file holding ``text``."""
    source = write(tmp_path, "g.cfg", text)
    return source, run(cli, "config", command, str(source))


def files(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))


# -- lists nested 3,000 deep ---------------------------------------------------

def test_xl_reads_lists_as_deep_as_the_nesting_limit() -> None:
    deepest = f"vif = {nested(MAX_NESTING)}\n".encode()
    assert xlu_parse(deepest, set()).rc == 0
    deeper = f"vif = {nested(MAX_NESTING + 1)}\n".encode()
    assert "memory exhausted" in xlu_parse(deeper, set()).report


def test_config_show_reads_a_vif_nested_3000_deep(tmp_path: Path) -> None:
    source = write(tmp_path, "deep.cfg", PV_HEAD + f"vif = {nested(3000)}\n")
    shown = run(cli, "config", "show", str(source))
    assert shown.exit_code == 0
    again = write(tmp_path, "again.cfg", shown.stdout)
    assert run(cli, "config", "show", str(again)).stdout == shown.stdout
    as_json = run(cli, "config", "show", "--json", str(source))
    # json.loads recurses once per level; the text is checked instead.
    assert f'"vif":{nested(3000)}' in "".join(as_json.stdout.split())
    shallow = write(tmp_path, "shallow.cfg", PV_HEAD + f"vif = {nested(3)}\n")
    shallow_json = run(cli, "config", "show", "--json", str(shallow)).stdout
    assert json.loads(shallow_json)["vif"] == [[["bridge=xenbr0"]]]
    assert shallow_json == json.dumps(json.loads(shallow_json), indent=2,
                                      ensure_ascii=False) + "\n"


def test_config_lint_locates_the_nested_vif(tmp_path: Path) -> None:
    source = write(tmp_path, "deep.cfg", PV_HEAD + f"vif = {nested(3000)}\n")
    result = run(cli, "config", "lint", str(source))
    assert result.exit_code == 1
    assert f"{source}:5:8: error: 'vif' has a nested list" in result.stdout


@pytest.mark.parametrize("command", [xen2kvm, xen2hvm])
def test_converters_refuse_the_nested_vif_with_its_place(tmp_path: Path, command) -> None:
    source = write(tmp_path, "deep.cfg", PV_HEAD + DISK + f"vif = {nested(3000)}\n")
    result = convert(command, str(source))
    assert result.exit_code == 1
    assert f"{source}:6:8: 'vif' has a nested list" in result.stderr
    assert files(tmp_path) == ["deep.cfg"]


@pytest.mark.parametrize("command", [xen2kvm, xen2hvm])
def test_converters_carry_an_unknown_key_nested_to_the_limit(tmp_path: Path, command) -> None:
    source = write(tmp_path, "deep.cfg",
                   PV_HEAD + DISK + f"deep_thing = {nested(MAX_NESTING)}\n")
    result = convert(command, "--dry-run", str(source))
    assert result.exit_code == 0
    assert "deep_thing" in result.stderr


def test_a_list_deeper_than_xl_reads_is_refused_by_name(tmp_path: Path) -> None:
    source = write(tmp_path, "deeper.cfg", PV_HEAD + f"vif = {nested(MAX_NESTING + 1)}\n")
    result = run(cli, "config", "show", str(source))
    assert result.exit_code == 1
    assert f"{source}:5:{7 + MAX_NESTING}: lists nested more than {MAX_NESTING}" \
        in result.stderr
    assert "(limit: nesting depth)" in result.stderr


# -- names ---------------------------------------------------------------------

def test_a_300000_character_name_is_refused_before_any_file(tmp_path: Path) -> None:
    source = write(tmp_path, "long.cfg",
                   f'name = "{"a" * 300_000}"\nkernel = "/k"\nmemory = 512\n')
    for command in (xen2kvm, xen2hvm):
        result = convert(command, str(source))
        assert result.exit_code == 1
        assert f"{source}:1:1: the guest name has 300000 bytes" in result.stderr
        assert f"at most {MAX_NAME_BYTES} (limit: name length)" in result.stderr
    assert files(tmp_path) == ["long.cfg"]


def _libvirt_xml(tmp_path: Path, name_element: str, doctype: str = "") -> Path:
    text = (LIBVIRT_XEN / "debian12-pv-direct-kernel.xml").read_text()
    start, end = text.index("<name>"), text.index("</name>") + len("</name>")
    return write(tmp_path, "guest.xml", doctype + text[:start] + name_element + text[end:])


@pytest.mark.parametrize("element, doctype", [
    ("<name></name>", ""),
    ("<name/>", ""),
    ("<name>&nothing;</name>", '<!DOCTYPE domain [<!ENTITY nothing "">]>\n'),
])
def test_libvirt_xml_without_a_name_is_refused(tmp_path: Path, element: str,
                                               doctype: str) -> None:
    source = _libvirt_xml(tmp_path, element, doctype)
    result = convert(xen2kvm, str(source))
    assert result.exit_code == 1
    assert "has no <name> (or an empty one), which libvirt refuses" in result.stderr
    assert result.stderr.startswith(f"{source}:")
    assert files(tmp_path) == ["guest.xml"]


def test_a_name_libvirt_refuses_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path, "slash.cfg", 'name = "web/01"\nkernel = "/k"\nmemory = 512\n')
    result = convert(xen2kvm, str(source))
    assert result.exit_code == 1
    assert f"{source}:1:1: libvirt refuses a domain name with a '/'" in result.stderr
    assert files(tmp_path) == ["slash.cfg"]


# -- binary input ----------------------------------------------------------------

def test_a_binary_config_is_quoted_short_and_escaped(tmp_path: Path) -> None:
    source = write(tmp_path, "binary.cfg", bytes(range(256)) * 64)
    result = run(cli, "config", "show", str(source))
    assert result.exit_code == 1
    for line in result.stderr.splitlines():
        assert line.isprintable() and len(line) < 200 + len(str(source))
    assert "\\x1b" in result.stderr and "characters)" in result.stderr


# -- lint locations --------------------------------------------------------------

def test_lint_locates_a_bad_positional_vdev(tmp_path: Path) -> None:
    source, result = config_command(tmp_path, "lint",
                                    'name = "g"\nkernel = "/k"\ndisk = [ "file:/a.img,w" ]\n')
    assert result.exit_code == 1
    assert f"{source}:3:10: error: vdev spec 'w': not a virtual device name 'w'" \
        in result.stdout


# -- memory ----------------------------------------------------------------------

def _kvm_memory(result) -> tuple[str, str]:
    xml = result.stdout
    return (xml.split('<memory unit="KiB">')[1].split("<")[0],
            xml.split('<currentMemory unit="KiB">')[1].split("<")[0])


def test_unset_memory_is_libxls_32_mib(tmp_path: Path) -> None:
    source = write(tmp_path, "nomem.cfg", 'name = "g"\nkernel = "/k"\n')
    result = convert(xen2kvm, "--dry-run", str(source))
    assert _kvm_memory(result) == ("32768", "32768")
    assert "memory  (not set; as with libxl, the domain gets 32 MiB (libxl's default))" \
        in result.stderr
    with_max = write(tmp_path, "maxmem.cfg", 'name = "g"\nkernel = "/k"\nmaxmem = 1024\n')
    assert _kvm_memory(convert(xen2kvm, "--dry-run", str(with_max))) == ("1048576", "1048576")


def test_unparsable_memory_says_so(tmp_path: Path) -> None:
    source = write(tmp_path, "huge.cfg",
                   'name = "g"\nkernel = "/k"\nmemory = 99999999999999999999999\n')
    result = convert(xen2kvm, "--dry-run", str(source))
    assert result.exit_code == 0
    assert "99999999999999999999999 could not be parsed as a number" in result.stderr
    assert _kvm_memory(result) == ("32768", "32768")


# -- secrets ---------------------------------------------------------------------

@pytest.mark.parametrize("command, config, output", [
    (xen2kvm, 'vfb = [ "vnc=1,vncpasswd=s3cret" ]\n', "g-kvm/g.xml"),
    (xen2kvm, 'type = "hvm"\nspice = 1\nspicepasswd = "s3cret"\n', "g-kvm/g.xml"),
    (xen2hvm, 'vfb = [ "vnc=1,vncpasswd=s3cret" ]\n', "g-hvm/g.cfg"),
])
def test_outputs_holding_a_password_are_private(tmp_path: Path, command, config: str,
                                                output: str) -> None:
    source = write(tmp_path, "g.cfg", f'name = "g"\nkernel = "/k"\nmemory = 512\n'
                                      f'{DISK}{config}')
    assert convert(command, str(source)).exit_code == 0
    written = tmp_path / output
    assert "s3cret" in written.read_text()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_outputs_without_a_password_stay_readable(tmp_path: Path) -> None:
    source = write(tmp_path, "g.cfg", 'name = "g"\nkernel = "/k"\nmemory = 512\n')
    assert convert(xen2kvm, str(source)).exit_code == 0
    assert stat.S_IMODE((tmp_path / "g-kvm" / "g.xml").stat().st_mode) == 0o644


# -- limits ----------------------------------------------------------------------

def test_an_input_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    source = write(tmp_path, "big.cfg", b"#" * MAX_INPUT_BYTES + b"\n")
    result = run(cli, "config", "show", str(source))
    assert result.exit_code == 1
    assert result.stderr == (f"{source}: the input is larger than {MAX_INPUT_BYTES} "
                             "bytes, the most xenshift reads (limit: input file size)\n")


_VIFS = ", ".join('"bridge=xenbr0"' for _ in range(MAX_DEVICES + 1))


@pytest.mark.parametrize("command, text, said, limit", [
    ("show", f'name = "g"\nextra = "{"x" * MAX_TOKEN_LENGTH}"\n',
     f"2:9: a token of {MAX_TOKEN_LENGTH + 2} characters", "token length"),
    ("lint", f'name = "g"\nkernel = "/k"\nvif = [ {_VIFS} ]\n',
     f"3:1: error: {MAX_DEVICES + 1} vif devices", "number of devices"),
])
def test_limits_are_located_and_named(tmp_path: Path, command: str, text: str,
                                      said: str, limit: str) -> None:
    source, result = config_command(tmp_path, command, text)
    assert result.exit_code == 1
    output = result.stdout + result.stderr
    assert f"{source}:{said}" in output and f"(limit: {limit})" in output


# -- found by the fuzz harness (tests/fuzz) ------------------------------------

def test_text_libvirt_xml_cannot_carry_is_refused_at_its_setting(tmp_path: Path) -> None:
    source = write(tmp_path, "g.cfg", b'name = "g"\nkernel = "/k\x01\xff"\nmemory = 512\n')
    result = convert(xen2kvm, str(source))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{source}:2:1: a value holds characters libvirt XML "
                                    "cannot carry")
    assert files(tmp_path) == ["g.cfg"]


def test_libvirt_xml_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    text = (LIBVIRT_XEN / "debian12-pv-direct-kernel.xml").read_bytes()
    source = write(tmp_path, "g.xml", text.replace(b"<name>", b"<name>\xff", 1))
    result = convert(xen2kvm, str(source))
    assert result.exit_code == 1
    assert f"{source}:" in result.stderr and "not well-formed XML" in result.stderr


@pytest.mark.parametrize("disk, message", [
    (f'"phy:/dev/a,xvda{"9" * 5000},w"', "not a virtual device name"),
    (f'"phy:/dev/a,xvd{"z" * 5000},w"', "not a virtual device name"),
])
def test_thousand_digit_vdevs_are_errors(tmp_path: Path, disk: str, message: str) -> None:
    source, result = config_command(tmp_path, "lint",
                                    f'name = "g"\nkernel = "/k"\ndisk = [ {disk} ]\n')
    assert result.exit_code == 1 and f"{source}:3:10: error: " in result.stdout
    assert message in result.stdout and "characters)" in result.stdout


def test_thousand_digit_numbers_are_not_numbers(tmp_path: Path) -> None:
    source, result = config_command(
        tmp_path, "lint", f'name = "g"\nkernel = "/k"\nmemory = {"9" * 5000}\n'
                          f'pci = [ "03:00.0,permissive={"9" * 5000}" ]\n')
    assert result.exit_code == 1
    assert f"{source}:4:9: error: pci spec" in result.stdout
    assert "a number too large for xl" in result.stdout


def test_vcpus_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    source, result = config_command(
        tmp_path, "lint", 'name = "g"\nkernel = "/k"\nvcpus = 100000\n'
                          'vnuma = [ [ "pnode=0", "size=512", '
                          '"vcpus=0-4000000000", "vdistances=10" ] ]\n')
    assert result.exit_code == 1
    assert f"{source}:3:1: error: vcpus 100000" in result.stdout
    assert "vnuma spec" in result.stdout and "vcpu 4000000000" in result.stdout
    assert result.stdout.count("(limit: number of vcpus)") == 2


def test_python_nested_too_deep_is_not_read_as_xm(tmp_path: Path) -> None:
    source, result = config_command(
        tmp_path, "show", 'name = "g"\nvif = ' + "(" * 3000 + '"x"' + ")" * 3000 + "\n")
    assert result.exit_code == 1 and f"{source}:2:7: parentheses are Python" in result.stderr


def test_set_keeps_a_stray_final_byte_last(tmp_path: Path) -> None:
    source = write(tmp_path, "g.cfg", b'name = "g"\nkernel = "/k"\n\x00')
    assert run(cli, "config", "set", str(source), "memory=512").exit_code == 0
    assert source.read_bytes() == b'name = "g"\nkernel = "/k"\nmemory = 512\n\x00'


def test_job_files_not_utf8_or_with_impossible_paths_are_located(tmp_path: Path) -> None:
    from xenshift.batch.jobfile import load_job
    from xenshift.errors import ConfigErrors, InputError
    job = write(tmp_path, "job.toml", b'[job]\ntarget = "kvm"\n\n[[guest]]\nconfig = "a\xff"\n')
    with pytest.raises(InputError) as info:
        load_job(job)
    assert str(info.value).startswith(f"{job}:5:12: not UTF-8 text: invalid start byte (byte 0xff)")
    job.write_text(f'[job]\ntarget = "kvm"\n\n[[guest]]\nconfig = "{"a" * 300}"\n')
    with pytest.raises(ConfigErrors) as errors:
        load_job(job)
    assert f"{job}:5: config = 'aaaa" in str(errors.value)
    assert "File name too long" in str(errors.value)
    job.write_text("[job]\nx = " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ConfigErrors, match="nested deeper .* \\(limit: nesting depth\\)"):
        load_job(job)


def test_netplan_yaml_of_any_shape_is_read() -> None:
    from xenshift.inspect.network import parse_netplan
    for text in ("just a string", "network: 5", "network:\n  ethernets: [1, 2]",
                 "[" * 5000):
        assert parse_netplan(text, "01.yaml") == ([], [])
    nics, _pins = parse_netplan("network:\n  ethernets:\n    eth0:\n      match: "
                                "{macaddress: 5}\n", "01.yaml")
    assert [(n.name, n.mac) for n in nics] == [("eth0", None)]


def test_udev_rules_with_a_huge_word_are_read_in_linear_time() -> None:
    import time
    from xenshift.inspect.network import parse_persistent_net_rules
    start = time.perf_counter()
    assert parse_persistent_net_rules("a" * 200_000, "70-persistent-net.rules") == []
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("fixture, old, new, said", [
    ("hvm-ovmf-vnuma.xml", "memory='4194304' unit='KiB'", "memory='4194304' unit='JiB'",
     ":18: unknown memory unit 'JiB'"),
    ("debian12-pv-direct-kernel.xml", "name='org.qemu.guest_agent.0'",
     "name='org.qemu,guest_agent.0'", ":40: <channel> cannot be written as an xl spec"),
])
def test_libvirt_xml_values_xl_cannot_take_are_located(tmp_path: Path, fixture: str,
                                                        old: str, new: str, said: str) -> None:
    text = (LIBVIRT_XEN / fixture).read_text()
    source = write(tmp_path, fixture, text.replace(old, new, 1))
    result = convert(xen2kvm, str(source))
    assert result.exit_code == 1 and result.stderr.startswith(f"{source}{said}")
