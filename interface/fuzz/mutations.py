"""Structure-aware mutations of real DICOM files, for the fuzzer (``interface/fuzz/runner.py``). Pure functions.

``walk`` locates every element of a Part 10 file (preamble, meta group, data set, sequence items,
encapsulated fragments) without pydicom, tolerating damage; the mutators use those boundaries to
truncate, flip bits, corrupt lengths and VRs, set absurd image attributes and break encapsulation.
Each mutator takes the file's bytes and a ``random.Random`` and returns a ``Mutation``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"

#: explicit VRs whose length field is 4 bytes (after 2 reserved bytes), PS3.5 7.1.2
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
MAX_ELEMENTS = 20_000


@dataclass(frozen=True)
class Element:
    """Where one element (or item / delimiter) sits in the file."""

    offset: int  # first byte of the tag
    tag: int
    vr: str | None  # explicit VR, None when implicit or an item
    length_offset: int
    length_size: int  # 2 or 4
    length: int  # as stored (0xFFFFFFFF = undefined)
    value_offset: int
    depth: int  # 0 = top level of the data set (or meta group)
    in_meta: bool

    @property
    def defined(self) -> bool:
        return self.length != UNDEFINED


@dataclass(frozen=True)
class Layout:
    elements: tuple[Element, ...]
    little_endian: bool
    explicit: bool
    transfer_syntax: str
    meta_end: int  # offset where the data set starts
    has_preamble: bool


@dataclass(frozen=True)
class Mutation:
    kind: str
    detail: str
    data: bytes


def _read_meta_uid(data: bytes, el: Element) -> str:
    return data[el.value_offset : el.value_offset + el.length].rstrip(b"\x00 ").decode("ascii", "replace")


def _walk_elements(
    data: bytes, pos: int, end: int, little: bool, explicit: bool, in_meta: bool, out: list[Element]
) -> int:
    """Append the elements from ``pos`` (stopping at ``end``, group change out of meta, or damage)."""
    e = "<" if little else ">"
    depth = 0
    while pos + 8 <= end and len(out) < MAX_ELEMENTS:
        group, elem = struct.unpack_from(e + "HH", data, pos)
        tag = (group << 16) | elem
        if in_meta and group != 0x0002:
            break
        vr: str | None = None
        if group == 0xFFFE:
            (length,) = struct.unpack_from(e + "I", data, pos + 4)
            lo, ls, vo = pos + 4, 4, pos + 8
        elif explicit:
            raw_vr = data[pos + 4 : pos + 6]
            if not (raw_vr.isalpha() and raw_vr.isupper()):
                break  # damaged beyond this point
            vr = raw_vr.decode("ascii")
            if vr in LONG_VRS:
                if pos + 12 > end:
                    break
                (length,) = struct.unpack_from(e + "I", data, pos + 8)
                lo, ls, vo = pos + 8, 4, pos + 12
            else:
                (length,) = struct.unpack_from(e + "H", data, pos + 6)
                lo, ls, vo = pos + 6, 2, pos + 8
        else:
            (length,) = struct.unpack_from(e + "I", data, pos + 4)
            lo, ls, vo = pos + 4, 4, pos + 8
        out.append(Element(pos, tag, vr, lo, ls, length, vo, depth, in_meta))
        if tag in (ITEM_END, SEQ_END):
            depth = max(0, depth - 1)
            pos = vo
        elif length == UNDEFINED:
            depth += 1  # walk into the sequence / item / encapsulated pixel data
            pos = vo
        else:
            pos = vo + length
    return pos


def walk(data: bytes) -> Layout:
    """The element layout of a (possibly damaged) Part 10 file or raw data set."""
    out: list[Element] = []
    has_preamble = data[128:132] == b"DICM"
    pos = 132 if has_preamble else 0
    ts = ""
    if has_preamble:
        pos = _walk_elements(data, pos, len(data), True, True, True, out)
        for el in out:
            if el.tag == 0x00020010 and el.defined:
                ts = _read_meta_uid(data, el)
    meta_end = pos
    if not ts:
        probe = data[pos + 4 : pos + 6]
        ts = "1.2.840.10008.1.2.1" if probe.isalpha() and probe.isupper() else IMPLICIT_LE
    little = ts != EXPLICIT_BE
    explicit = ts != IMPLICIT_LE
    if ts != DEFLATED:
        _walk_elements(data, pos, len(data), little, explicit, False, out)
    return Layout(tuple(out), little, explicit, ts, meta_end, has_preamble)


# -- boundaries -------------------------------------------------------------------------------------


def truncation_points(data: bytes, layout: Layout) -> dict[str, list[int]]:
    """Every kind of boundary a file can be cut at, each with its offsets (all < len(data))."""
    n = len(data)
    kinds: dict[str, list[int]] = {"empty": [0], "last_byte": [n - 1]}
    if layout.has_preamble:
        kinds["preamble"] = [64, 128]
        kinds["prefix"] = [130, 132]
        kinds["meta_value"] = [
            e.value_offset + e.length // 2 for e in layout.elements if e.in_meta and e.defined and e.length > 1
        ]
    kinds["tag"] = [e.offset + 2 for e in layout.elements]
    kinds["vr"] = [e.offset + 5 for e in layout.elements if e.vr]
    kinds["length"] = [e.length_offset + 1 for e in layout.elements]
    kinds["value_start"] = [e.value_offset for e in layout.elements if e.defined and e.length > 0]
    kinds["value_middle"] = [e.value_offset + e.length // 2 for e in layout.elements if e.defined and e.length > 1]
    kinds["item"] = [e.offset for e in layout.elements if e.tag == ITEM]
    kinds["delimiter"] = [e.offset for e in layout.elements if e.tag in (ITEM_END, SEQ_END)]
    pixels = [e for e in layout.elements if e.tag == PIXEL_DATA and not e.in_meta]
    if pixels:
        px = pixels[-1]
        kinds["pixel_header"] = [px.offset, px.value_offset - 1]
        if px.defined:
            kinds["pixel_middle"] = [px.value_offset + px.length // 2, px.value_offset + px.length - 1]
        else:
            frags = [e for e in layout.elements if e.tag == ITEM and e.offset > px.offset and e.defined]
            kinds["fragment"] = [e.value_offset + e.length // 2 for e in frags if e.length > 1]
    return {k: sorted({p for p in v if 0 <= p < n}) for k, v in kinds.items() if any(0 <= p < n for p in v)}


def truncate(data: bytes, rng: random.Random) -> Mutation:
    points = truncation_points(data, walk(data))
    kind = rng.choice(sorted(points))
    cut = rng.choice(points[kind])
    return Mutation("truncate", f"{kind} at {cut} of {len(data)}", data[:cut])


def bit_flip(data: bytes, rng: random.Random) -> Mutation:
    """Flip 1..8 bits, half of the time within the headers (before the pixel data's value)."""
    layout = walk(data)
    px = [e.value_offset for e in layout.elements if e.tag == PIXEL_DATA and not e.in_meta]
    limit = px[-1] if px and rng.random() < 0.5 else len(data)
    buf = bytearray(data)
    flips = []
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(max(1, limit))
        bit = rng.randrange(8)
        buf[pos] ^= 1 << bit
        flips.append(f"{pos}.{bit}")
    return Mutation("bit_flip", "bits " + ",".join(flips), bytes(buf))


def _patch_length(data: bytes, el: Element, value: int, little: bool) -> bytes:
    fmt = ("<" if little else ">") + ("H" if el.length_size == 2 else "I")
    value &= 0xFFFF if el.length_size == 2 else 0xFFFFFFFF
    return data[: el.length_offset] + struct.pack(fmt, value) + data[el.length_offset + el.length_size :]


def corrupt_length(data: bytes, rng: random.Random) -> Mutation:
    layout = walk(data)
    if not layout.elements:
        return bit_flip(data, rng)
    el = rng.choice(layout.elements)
    base = el.length if el.defined else 0
    choices = [0, 1, base + 1, base + 2, max(0, base - 2), base * 2 + 2, 0xFFFE, len(data), 0x7FFFFFFF]
    if el.length_size == 4:
        choices += [UNDEFINED, 0xFFFFFFFE]
    value = rng.choice(choices)
    little = layout.little_endian or el.in_meta
    return Mutation(
        "length",
        f"({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) {el.length} -> {value}",
        _patch_length(data, el, value, little),
    )


VR_CHOICES = ("OB", "OW", "SQ", "UN", "UT", "US", "SS", "FD", "IS", "DS", "CS", "ZZ", "\x00\x00", "  ")


def corrupt_vr(data: bytes, rng: random.Random) -> Mutation:
    layout = walk(data)
    explicit = [e for e in layout.elements if e.vr]
    if not explicit:
        return corrupt_length(data, rng)
    el = rng.choice(explicit)
    new = rng.choice([v for v in VR_CHOICES if v != el.vr])
    pos = el.offset + 4
    patched = data[:pos] + new.encode("latin-1") + data[pos + 2 :]
    return Mutation("vr", f"({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) {el.vr} -> {new!r}", patched)


# -- absurd image attributes --------------------------------------------------------------------------


def _encode_element(tag: int, vr: str, value: bytes, little: bool, explicit: bool) -> bytes:
    e = "<" if little else ">"
    head = struct.pack(e + "HH", tag >> 16, tag & 0xFFFF)
    if not explicit:
        return head + struct.pack(e + "I", len(value)) + value
    if vr in LONG_VRS:
        return head + vr.encode() + b"\x00\x00" + struct.pack(e + "I", len(value)) + value
    return head + vr.encode() + struct.pack(e + "H", len(value)) + value


def set_element(data: bytes, tag: int, vr: str, value: bytes) -> bytes:
    """The file with the top-level data set element ``tag`` replaced (or inserted) with ``value``.

    Only top-level elements move (the data set has no enclosing length), so the rest stays parseable.
    """
    if len(value) % 2:
        value += b" " if vr in ("IS", "DS", "CS", "LO", "SH", "ST", "LT", "UT", "PN") else b"\x00"
    layout = walk(data)
    top = [e for e in layout.elements if not e.in_meta and e.depth == 0]
    new = _encode_element(tag, vr, value, layout.little_endian, layout.explicit)
    for el in top:
        if el.tag == tag and el.defined:
            return data[: el.offset] + new + data[el.value_offset + el.length :]
        if el.tag > tag:
            return data[: el.offset] + new + data[el.offset :]
    return data + new


def _us(value: int, little: bool) -> bytes:
    return struct.pack("<H" if little else ">H", value & 0xFFFF)


#: (keyword, tag, VR, absurd values) for the image attributes the size checks depend on
ABSURD: tuple[tuple[str, int, str, tuple[int | str, ...]], ...] = (
    ("Rows", 0x00280010, "US", (0, 1, 0x7FFF, 0xFFFF)),
    ("Columns", 0x00280011, "US", (0, 1, 0x7FFF, 0xFFFF)),
    ("NumberOfFrames", 0x00280008, "IS", ("0", "-5", "2147483647", "99999999999", "1e9", "abc", "", "3.5")),
    ("BitsAllocated", 0x00280100, "US", (0, 1, 7, 12, 24, 48, 64, 0xFFFF)),
    ("BitsStored", 0x00280101, "US", (0, 17, 33, 64, 0xFFFF)),
    ("HighBit", 0x00280102, "US", (0, 31, 0xFFFF)),
    ("SamplesPerPixel", 0x00280002, "US", (0, 2, 4, 0xFFFF)),
    ("PixelRepresentation", 0x00280103, "US", (2, 0xFFFF)),
    ("PlanarConfiguration", 0x00280006, "US", (7, 0xFFFF)),
    ("PhotometricInterpretation", 0x00280004, "CS", ("RGB", "PALETTE COLOR", "YBR_FULL_422", "XYZ", "")),
)


def absurd_attributes(data: bytes, rng: random.Random) -> Mutation:
    """1-3 image attributes set to absurd values; sometimes a huge Rows x Columns x Frames combination."""
    layout = walk(data)
    if layout.transfer_syntax == DEFLATED:
        return truncate(data, rng)
    little = layout.little_endian
    details = []
    if rng.random() < 0.25:
        rows, cols, frames = rng.choice([(0xFFFF, 0xFFFF, "1"), (0xFFFF, 0xFFFF, "2147483647"), (4096, 4096, "99999")])
        data = set_element(data, 0x00280010, "US", _us(rows, little))
        data = set_element(data, 0x00280011, "US", _us(cols, little))
        data = set_element(data, 0x00280008, "IS", frames.encode())
        return Mutation("absurd", f"Rows={rows} Columns={cols} NumberOfFrames={frames}", data)
    for keyword, tag, vr, values in rng.sample(ABSURD, rng.randint(1, 3)):
        value = rng.choice(values)
        raw = _us(value, little) if isinstance(value, int) else value.encode("ascii")
        data = set_element(data, tag, vr, raw)
        details.append(f"{keyword}={value!r}")
    return Mutation("absurd", " ".join(details), data)


# -- encapsulation -------------------------------------------------------------------------------------


def break_encapsulation(data: bytes, rng: random.Random) -> Mutation:
    """Damage the item structure of encapsulated pixel data (or claim native data is encapsulated)."""
    layout = walk(data)
    pixels = [e for e in layout.elements if e.tag == PIXEL_DATA and not e.in_meta]
    if not pixels:
        return corrupt_length(data, rng)
    px = pixels[-1]
    e = "<" if layout.little_endian else ">"
    le = layout.little_endian
    if px.defined:
        if px.length_size != 4:
            return corrupt_length(data, rng)
        return Mutation(
            "encapsulation",
            "native pixel data given an undefined length",
            _patch_length(data, px, UNDEFINED, layout.little_endian),
        )
    items = [x for x in layout.elements if x.offset > px.offset and x.tag == ITEM]
    ends = [x for x in layout.elements if x.offset > px.offset and x.tag == SEQ_END]
    options: list[tuple[str, Callable[[], bytes]]] = [
        ("pixel data given a defined length", lambda: _patch_length(data, px, len(data) - px.value_offset, le)),
    ]
    if ends:
        options.append(("sequence delimiter removed", lambda: data[: ends[0].offset] + data[ends[0].offset + 8 :]))
    if items:
        bot = items[0]
        frags = items[1:]
        if bot.length >= 4:
            options.append(
                (
                    "offset table overflows",
                    lambda: data[: bot.value_offset] + struct.pack(e + "I", 0xFFFFFFF0) + data[bot.value_offset + 4 :],
                )
            )
        options.append(("offset table length too long", lambda: _patch_length(data, bot, bot.length + 0x1000, le)))
        options.append(("first item tag destroyed", lambda: data[: bot.offset] + b"\x00" * 4 + data[bot.offset + 4 :]))
        if frags:
            f = rng.choice(frags)
            options.append(("fragment length huge", lambda: _patch_length(data, f, 0x7FFFFFF0, le)))
            options.append(("fragment length short by 2", lambda: _patch_length(data, f, max(0, f.length - 2), le)))
            options.append(
                (
                    "fragment emptied",
                    lambda: data[: f.length_offset] + struct.pack(e + "I", 0) + data[f.value_offset + f.length :],
                )
            )
            options.append(
                (
                    "fragment head zeroed",
                    lambda: (
                        data[: f.value_offset]
                        + b"\x00" * min(16, f.length)
                        + data[f.value_offset + min(16, f.length) :]
                    ),
                )
            )
            options.append(
                (
                    "fragment duplicated",
                    lambda: (
                        data[: f.value_offset + f.length]
                        + data[f.offset : f.value_offset + f.length]
                        + data[f.value_offset + f.length :]
                    ),
                )
            )
            options.append(
                (
                    "fragment garbage",
                    lambda: data[: f.value_offset] + rng.randbytes(f.length) + data[f.value_offset + f.length :],
                )
            )
    name, make = rng.choice(options)
    return Mutation("encapsulation", name, make())


def swap_transfer_syntax(data: bytes, rng: random.Random) -> Mutation:
    """The meta header claims another transfer syntax than the data set is encoded in."""
    layout = walk(data)
    ts_el = [e for e in layout.elements if e.in_meta and e.tag == 0x00020010 and e.defined]
    if not ts_el:
        return absurd_attributes(data, rng)
    el = ts_el[0]
    uid = rng.choice(
        [
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.1",
            "1.2.840.10008.1.2.2",
            "1.2.840.10008.1.2.4.50",
            "1.2.840.10008.1.2.4.70",
            "1.2.840.10008.1.2.4.80",
            "1.2.840.10008.1.2.4.90",
            "1.2.840.10008.1.2.5",
            "1.2.840.10008.1.2.1.99",
            "1.2.3.4.5.6",
            "",
        ]
    )
    value = uid.encode() + (b"\x00" if len(uid) % 2 else b"")
    new = _encode_element(el.tag, "UI", value, True, True)
    out = data[: el.offset] + new + data[el.value_offset + el.length :]
    group = [e for e in layout.elements if e.in_meta and e.tag == 0x00020000 and e.length == 4]
    if group:
        g = group[0]
        (old,) = struct.unpack_from("<I", data, g.value_offset)
        fixed = struct.pack("<I", (old + len(value) - el.length) & 0xFFFFFFFF)
        out = out[: g.value_offset] + fixed + out[g.value_offset + 4 :]
    return Mutation("transfer_syntax", f"{_read_meta_uid(data, el)} -> {uid or '(empty)'}", out)


MUTATORS: dict[str, Callable[[bytes, random.Random], Mutation]] = {
    "truncate": truncate,
    "bit_flip": bit_flip,
    "length": corrupt_length,
    "vr": corrupt_vr,
    "absurd": absurd_attributes,
    "encapsulation": break_encapsulation,
    "transfer_syntax": swap_transfer_syntax,
}


def mutate(data: bytes, rng: random.Random, kind: str | None = None) -> Mutation:
    """One mutation of ``data`` (of ``kind``, else a random kind)."""
    return MUTATORS[kind or rng.choice(sorted(MUTATORS))](data, rng)
