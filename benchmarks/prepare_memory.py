"""Peak memory of `prepare` on image folders of growing size: it should stay flat.

Writes synthetic folders (`scripts/make_image_folder.py`: coloured shapes,
PNG/JPEG/WebP, class subfolders) of each size asked for, prepares each in a
fresh process as the `prepare` stage does (`prepare_dataset`), and prints
a Markdown table: the files, the decoded size of the prepared pixels, the
prepare process's peak resident memory (`ru_maxrss`), and its seconds.

Usage:

    # About 0.2 and 2.2 GB of decoded 128x128 RGB pixels (disk: ~2x each, in --work):
    python -m benchmarks.prepare_memory --images 4400 44000 --image-size 128

    # A smoke test, in seconds:
    python -m benchmarks.prepare_memory --images 60 120 --image-size 32
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.make_image_folder import make_image_folder

# Run in a child, so that each figure is one prepare's peak alone.
CHILD = """
import resource, sys
from pipeline.data.prepare import prepare_dataset
from pipeline.data.sources import Folder
from pipeline.params import PrepareParams
source = Folder(path=sys.argv[1], image_size=int(sys.argv[2]), channels=3)
info = prepare_dataset(PrepareParams(source=source), 42, sys.argv[3])
count = sum(split.count for split in info.splits.values())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, count)
"""


def measure(images: int, image_size: int, work: Path) -> dict:
    """Generate a folder of `images` files, prepare it in a child process; the figures."""
    classes = 4
    folder = work / f"folder_{images}"
    make_image_folder(folder, classes, -(-images // classes), size=image_size, seed=0)
    out = work / f"prepared_{images}"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(image_size), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    peak_kib, examples = (int(v) for v in done.stdout.split())
    decoded = int(examples) * image_size * image_size * 3
    shutil.rmtree(folder)
    shutil.rmtree(out)
    peak_mb = peak_kib / 1024
    return {"files": examples, "decoded_gb": decoded / 1e9, "peak_mb": peak_mb, "s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[4400, 44000])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp)")
    args = parser.parse_args()
    if min(args.images) < 4:
        parser.error("--images: at least 4 (one per class)")
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        rows = [measure(n, args.image_size, Path(work)) for n in args.images]
    print(f"| images | decoded {args.image_size}x{args.image_size} RGB | peak RSS | seconds |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['files']:,} | {row['decoded_gb']:.2f} GB | {row['peak_mb']:.0f} MB "
            f"| {row['s']:.0f} |"
        )


if __name__ == "__main__":
    main()
