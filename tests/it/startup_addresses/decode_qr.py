"""Reads a QR code drawn in Unicode half blocks on stdin and prints the text it holds.

The drawing is rasterised as a terminal with a dark background shows it (a block's glyph is
light, a space dark), four pixels per module, with a dark margin around it, and decoded by
ZXing (the zxing-cpp wheel, `pip install zxing-cpp`): a real reader, as a phone's camera is.
Exits non-zero, with the reason on stderr, when zxing-cpp is missing or nothing decodes.
"""

import sys

import zxingcpp

# Each character is one module wide and two high: (top lit, bottom lit).
CELLS = {" ": (0, 0), "\u2584": (0, 1), "\u2580": (1, 0), "\u2588": (1, 1)}
SCALE = 4
MARGIN = 8


def modules(lines):
    rows = []
    for line in lines:
        cells = [CELLS[c] for c in line]
        rows.append([top for top, _ in cells])
        rows.append([bottom for _, bottom in cells])
    return rows


def raster(rows):
    width = max(len(r) for r in rows) * SCALE + 2 * MARGIN
    height = len(rows) * SCALE + 2 * MARGIN
    pixels = bytearray(width * height)  # all dark
    for y, row in enumerate(rows):
        for x, lit in enumerate(row):
            if lit:
                for dy in range(SCALE):
                    start = (MARGIN + y * SCALE + dy) * width + MARGIN + x * SCALE
                    pixels[start : start + SCALE] = b"\xff" * SCALE
    return memoryview(bytes(pixels)).cast("B", (height, width))


def main():
    lines = [line.rstrip("\n") for line in sys.stdin if line.strip("\n")]
    found = zxingcpp.read_barcode(raster(modules(lines)))
    if found is None or not found.valid:
        sys.exit("no QR code decoded")
    print(found.text)


main()
