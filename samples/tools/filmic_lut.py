"""Packs Blender's Filmic view transform LUTs into src/RenderFarm.Rendering/Imaging/FilmicLut.bin,
the data behind `--view filmic` (ToneMapper.Filmic).

Blender's OCIO config (datafiles/colormanagement/config.ocio) builds the "Filmic" view of the sRGB
display as: linear -> lg2 allocation [-12.473931188, 12.526068812] -> filmic_desat65cube.spi3d
(tetrahedral) -> uniform allocation [0, 0.66] -> filmic_to_0-70_1-03.spi1d (linear), the last being
the "None" (Medium Contrast) look. This script stores the two LUTs exactly as the files hold them:

  - the 65^3 cube, each output channel quantised to uint16 (value * 65535, error < 8e-6, below the
    file's own six significant digits), stored planar (R plane, G plane, B plane; red index slowest,
    blue fastest), each value as the difference from the previous one along blue modulo 2^16
    (smooth data, so it deflates to a few tens of kilobytes);
  - the 4096 entries of the 1-D curve as little-endian float32;

all of it zlib-compressed.

Usage: python3 samples/tools/filmic_lut.py [/usr/share/blender/datafiles/colormanagement]
"""

import os
import struct
import sys
import zlib

SIZE = 65
CURVE = 4096


def read_cube(path):
    with open(path, encoding="ascii") as handle:
        lines = handle.read().split("\n")
    if lines[0].strip() != "spilut 1.0" or lines[2].split() != ["65", "65", "65"]:
        raise SystemExit(f"{path}: not a 65^3 spi3d file")
    cube = [[0] * (SIZE ** 3) for _ in range(3)]
    seen = 0
    for line in lines[3:]:
        parts = line.split()
        if not parts:
            continue
        r, g, b = (int(p) for p in parts[:3])
        index = (r * SIZE + g) * SIZE + b
        for channel in range(3):
            value = float(parts[3 + channel])
            cube[channel][index] = min(65535, max(0, round(value * 65535)))
        seen += 1
    if seen != SIZE ** 3:
        raise SystemExit(f"{path}: {seen} entries, expected {SIZE ** 3}")
    return cube


def read_curve(path):
    with open(path, encoding="ascii") as handle:
        text = handle.read()
    if "From 0.000000 1.000000" not in text or f"Length {CURVE}" not in text:
        raise SystemExit(f"{path}: not a 4096-entry spi1d on [0, 1]")
    body = text[text.index("{") + 1:text.index("}")]
    values = [float(v) for v in body.split()]
    if len(values) != CURVE:
        raise SystemExit(f"{path}: {len(values)} entries, expected {CURVE}")
    return values


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/blender/datafiles/colormanagement"
    cube = read_cube(os.path.join(folder, "filmic", "filmic_desat65cube.spi3d"))
    curve = read_curve(os.path.join(folder, "filmic", "filmic_to_0-70_1-03.spi1d"))
    out = bytearray()
    for plane in cube:
        previous = 0
        for index, value in enumerate(plane):
            if index % SIZE == 0:
                previous = 0
            out += struct.pack("<H", (value - previous) % 65536)
            previous = value
    for value in curve:
        out += struct.pack("<f", value)
    target = os.path.join(os.path.dirname(__file__), "..", "..", "src", "RenderFarm.Rendering", "Imaging", "FilmicLut.bin")
    with open(target, "wb") as handle:
        handle.write(zlib.compress(bytes(out), 9))
    print(f"wrote {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
