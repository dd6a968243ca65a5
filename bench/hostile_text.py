"""How the chat readers cope with hostile text: extraction time against the length of one line, and the
memory a file without newlines takes to read.

    python bench/hostile_text.py [--sizes 1,2,4,8] [--shapes list,old_prices,quantities] [--file-mb 200]

For each shape, one line of 1, 2, 4 and 8 MB (``--sizes``, in MB) is given to
``ingestion.text_offers.extract_offers``; the bench prints the seconds each
took and the seconds per MB, which stay about flat when extraction is linear
in the line's length (before the fix a 2 MB line took 13 s and 20 MB never
finished, because the line was rebuilt once per span). Shapes:

- ``list``: products with marked prices after separators, ``S23 8GB $629 / ...`` (one offer each)
- ``old_prices``: one offer and then ``was 900`` again and again (one span cut out each)
- ``quantities``: one offer and then ``x10`` again and again
- ``phones``: phone numbers, ``+44 7911 123456`` (blocked spans)
- ``no_spaces``: ``$1/$2/$3/...`` without a space (one long word)
- ``spaced``: amounts grouped by spaces, ``1 234 zł; ...``

``--file-mb`` then writes a file of that many MB without a newline and prints
the seconds and the peak memory (``tracemalloc``) ``chat_text.read_chat_text``
takes to read it: one chunk, not the file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestion.chat_text import read_chat_text  # noqa: E402
from ingestion.text_offers import extract_offers  # noqa: E402

SHAPES = {
    "list": ("", lambda n: f"S{n % 90 + 10} {n % 7 + 1}GB ${100 + n % 900} / "),
    "old_prices": ("iPhone 15 128GB $750 ", lambda n: "was 900 "),
    "quantities": ("iPhone 15 128GB $750 ", lambda n: "x10 "),
    "phones": ("iPhone 15 128GB $750 call ", lambda n: f"+44 7911 {100000 + n % 900000} "),
    "no_spaces": ("iPhone 15 ", lambda n: f"${1 + n % 900}/"),
    "spaced": ("", lambda n: f"Item {n % 50} {n % 9 + 1} 234 zł; "),
}


def one_line(shape: str, size: int) -> str:
    """A line of about ``size`` characters of the given shape."""
    start, piece = SHAPES[shape]
    parts, length, n = [start], len(start), 0
    while length < size:
        part = piece(n)
        parts.append(part)
        length += len(part)
        n += 1
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,8", help="line sizes in MB, comma-separated")
    parser.add_argument("--shapes", default="list,old_prices,quantities",
                        help=f"comma-separated, or 'all': {', '.join(SHAPES)}")
    parser.add_argument("--file-mb", type=int, default=200, help="size of the file without newlines (0: skip)")
    args = parser.parse_args()
    sizes = [float(size) for size in args.sizes.split(",")]
    shapes = list(SHAPES) if args.shapes == "all" else args.shapes.split(",")

    list(extract_offers("warm up: iPhone 15 $750"))  # the currency table loads once
    print(f"{'shape':<12}" + "".join(f"{f'{size:g} MB':>16}" for size in sizes) + "    (seconds, seconds per MB)")
    for shape in shapes:
        row = []
        for size in sizes:
            text = one_line(shape, int(size * 1_000_000))
            start = time.perf_counter()
            offers = sum(1 for _ in extract_offers(text))
            seconds = time.perf_counter() - start
            row.append(f"{seconds:7.2f} ({seconds / size:5.2f})")
            del text
        print(f"{shape:<12}" + "".join(f"{cell:>16}" for cell in row) + f"    {offers:,} offers in the last", flush=True)

    if args.file_mb:
        with tempfile.TemporaryDirectory(prefix="pricehub-bench-") as directory:
            path = Path(directory) / "chat.txt"
            block = b"iPhone 15 $750 / " * 61_681  # about 1 MB
            with open(path, "wb") as handle:
                handle.write(b"12/03/2024, 10:00 - Karim: ")
                for _ in range(args.file_mb):
                    handle.write(block)
            tracemalloc.start()
            start = time.perf_counter()
            chat = read_chat_text(path)
            seconds = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"read_chat_text, {path.stat().st_size / 1e6:,.0f} MB without a newline: {seconds:.2f} s, "
                  f"peak {peak / 2 ** 20:.1f} MiB traced, {len(chat.text):,} characters kept, "
                  f"{len(chat.cut_lines)} line cut")


if __name__ == "__main__":
    main()
