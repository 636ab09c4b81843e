#!/usr/bin/env python3
"""Make libLibTorchSharp.so load on a libstdc++ without GLIBCXX_3.4.32 (Debian 12, GCC 12).

The library needs that version for exactly one symbol, std::ios_base_library_init(), which GCC 13
only references (from <iostream>) so that the binary demands a libstdc++ that initialises the
standard streams itself; nothing calls it. We therefore, in place and idempotently:
  1. set VER_FLG_WEAK on the GLIBCXX_3.4.32 entry of .gnu.version_r (the loader then only warns), and
  2. give every dynamic symbol that was bound to that version the global version index, so that no
     symbol asks the loader for it.
See shared/notes/torchsharp-on-debian12.md. Exit code 0: patched or already patched; 2: not an ELF
we understand. Prints what it did.
"""
import ctypes
import os
import struct
import sys

VER_FLG_WEAK = 0x2
SHT_DYNSYM, SHT_GNU_VERNEED, SHT_GNU_VERSYM = 11, 0x6FFFFFFE, 0x6FFFFFFF
WANTED = b"GLIBCXX_3.4.32"


def main(path: str) -> int:
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if True:
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            print(f"{path}: not a 64-bit little-endian ELF file", file=sys.stderr)
            return 2
        e_shoff, = struct.unpack_from("<Q", data, 0x28)
        e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = []
        for i in range(e_shnum):
            off = e_shoff + i * e_shentsize
            _name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, sh_info, _align, sh_entsize = \
                struct.unpack_from("<IIQQQQIIQQ", data, off)
            sections.append((sh_type, sh_offset, sh_size, sh_link, sh_info, sh_entsize))

        def strtab_at(index, str_off):
            base = sections[index][1] + str_off
            return bytes(data[base:data.index(0, base)])

        changed = []
        wanted_index = None
        for sh_type, sh_offset, _size, sh_link, sh_info, _es in sections:
            if sh_type != SHT_GNU_VERNEED:
                continue
            need = sh_offset
            for _ in range(sh_info):
                _vn_version, vn_cnt, _file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, need)
                aux = need + vn_aux
                for _ in range(vn_cnt):
                    _hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                    if strtab_at(sh_link, vna_name) == WANTED:
                        wanted_index = vna_other
                        if not vna_flags & VER_FLG_WEAK:
                            struct.pack_into("<H", data, aux + 4, vna_flags | VER_FLG_WEAK)
                            changed.append("weak version requirement")
                    if vna_next == 0:
                        break
                    aux += vna_next
                if vn_next == 0:
                    break
                need += vn_next

        if wanted_index is None:
            print(f"{path}: does not require {WANTED.decode()}; nothing to do")
            return 0

        dynsym = next(s for s in sections if s[0] == SHT_DYNSYM)
        versym = next(s for s in sections if s[0] == SHT_GNU_VERSYM)
        count = dynsym[2] // dynsym[5]
        for i in range(count):
            at = versym[1] + 2 * i
            ndx, = struct.unpack_from("<H", data, at)
            if ndx & 0x7FFF == wanted_index:
                struct.pack_into("<H", data, at, 1)  # VER_NDX_GLOBAL
                name_off, = struct.unpack_from("<I", data, dynsym[1] + i * dynsym[5])
                changed.append("unversioned " + strtab_at(dynsym[3], name_off).decode())

        if changed:
            # Write beside and rename: a hard-linked copy (NuGet's cache) is never modified in place.
            tmp = path + ".patching"
            with open(tmp, "wb") as out:
                out.write(data)
            os.chmod(tmp, os.stat(path).st_mode)
            os.replace(tmp, path)
            print(f"{path}: " + ", ".join(changed))
        else:
            print(f"{path}: already patched")
    return 0


def system_libstdcxx_has_wanted() -> bool:
    """True where the libstdc++ this process loads already defines GLIBCXX_3.4.32 (no patch needed)."""
    ctypes.CDLL("libstdc++.so.6")
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libstdc++.so" in line}
    return any(WANTED in open(p, "rb").read() for p in paths if os.path.exists(p))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: patch_glibcxx_weak.py libLibTorchSharp.so...", file=sys.stderr)
        sys.exit(2)
    if system_libstdcxx_has_wanted():
        print(f"system libstdc++ provides {WANTED.decode()}; TorchSharp loads as shipped, nothing patched")
        sys.exit(0)
    sys.exit(max(main(p) for p in sys.argv[1:]))
