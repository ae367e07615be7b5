"""Download-and-process speed: our pipeline vs img2dataset on the same loopback URLs, in one run.

Serves a few hundred large JPEGs (3000-4000 px on the long side, like the Met's originals: real art
images from /work/shared/data/real upscaled, with grain so they compress like photographs) from a
loopback HTTP server in its own process, then alternates, round by round:

  (a) ours: PoliteSession.get_bytes (no rate limit on loopback) + process_image (header checks,
      draft-mode decode, LANCZOS to 500 px, JPEG q90, sha256, 64-bit phash) + within-object dedup
      and cap, writing the JPEGs; 4 threads in one process;
  (b) img2dataset 1.47: the same URLs, 500 px longest side (keep_ratio_largest, only if bigger),
      JPEG q90, output_format=files, 1 process x 4 threads;
  (c) ours on the web-large rendition (800 px, as the Met serves primaryImageSmall) of the same images:
      not the same input as (a) and (b), but what the crawler downloads when that rendition covers
      --max-side, so it shows where the larger saving lies.

Each side also runs on a single URL, so its start-up cost can be separated: steady-state cpu-ms per
image = (cpu(N) - cpu(1)) / (N - 1). CPU time (user + sys of the worker and its children) is the stable
figure on a shared machine; images per second per core = 1000 / cpu-ms per image.

img2dataset forces pandas<3 and heavy dependencies, so it lives only in its own virtualenv, which this
script creates on first use (benchmark/.work/i2d-venv, ignored by git):

    .venv/bin/python benchmark/bench_download.py                    # 200 images, 2 rounds
    .venv/bin/python benchmark/bench_download.py --n-images 50 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
I2D_VENV = WORK / "i2d-venv"
I2D_REQUIREMENT = "img2dataset==1.47.0"
REAL_IMAGES = Path("/work/shared/data/real")
MAX_SIDE_PX = 500
JPEG_QUALITY = 90
THREADS = 4


# ---------------------------------------------------------------- inputs


def source_images() -> list[Path]:
    """Real images from the shared folder, else the sample museum's packaged subset."""
    for root in (REAL_IMAGES, HERE.parent / "metdata" / "sample" / "data"):
        found = sorted(p for p in root.glob("*/*.jpg"))
        if found:
            return found
    raise SystemExit("no source images found under /work/shared/data/real or metdata/sample/data")


def make_large_jpegs(n_images: int, seed: int = 0) -> Path:
    """`n_images` JPEGs of 3000-4000 px (long side), cached under benchmark/.work."""
    import numpy as np
    from PIL import Image, ImageOps

    folder = WORK / f"images-{n_images}-s{seed}"
    if (folder / "DONE").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = []
    for path in source_images():
        with Image.open(path) as image:
            if max(image.size) / min(image.size) <= 2.5:
                sources.append(path)
    for i in range(n_images):
        with Image.open(sources[i % len(sources)]) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
        if (i // len(sources)) % 2:
            image = ImageOps.mirror(image)
        long_side = int(rng.integers(3000, 4001))
        scale = long_side / max(image.size)
        big = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        grain = rng.normal(0, 6, size=(big.height, big.width, 1)).astype(np.int16)
        pixels = np.clip(np.asarray(big, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", "JPEG", quality=90)
    (folder / "DONE").write_text("ok\n")
    return folder


def make_web_large(folder: Path, long_side_px: int = 800) -> Path:
    """The Met-style web-large rendition (500-800 px) of each original, as the crawler could take it."""
    from PIL import Image

    out = folder / "web-large"
    if (out / "DONE").exists():
        return out
    out.mkdir(exist_ok=True)
    for path in sorted(folder.glob("*.jpg")):
        with Image.open(path) as image:
            image.draft("RGB", (long_side_px, long_side_px))
            image.thumbnail((long_side_px, long_side_px), Image.Resampling.LANCZOS)
            image.save(out / path.name, "JPEG", quality=85)
    (out / "DONE").write_text("ok\n")
    return out


def ensure_img2dataset() -> Path | None:
    """The img2dataset CLI from its own virtualenv, created on first use; None if it cannot be installed."""
    cli = I2D_VENV / "bin" / "img2dataset"
    if cli.exists():
        return cli
    print(f"creating {I2D_VENV} with {I2D_REQUIREMENT} (once)...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(I2D_VENV)], check=True)
        subprocess.run([str(I2D_VENV / "bin" / "pip"), "install", "--quiet", I2D_REQUIREMENT], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"img2dataset could not be installed: {exc}", file=sys.stderr)
        return None
    return cli if cli.exists() else None


# ---------------------------------------------------------------- children


def serve(folder: str) -> None:
    """Child: a threaded loopback file server; prints its port, then serves until killed."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=folder))
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def run_ours(url_list: str, out_dir: str) -> None:
    """Child: our pipeline over the URLs; writes every decoded image, prints the final status counts as JSON
    (the real art set has several views of some works, so a few end up "duplicate" within a group of 5)."""
    from concurrent.futures import ThreadPoolExecutor

    from metdata.http import HttpError, PoliteSession
    from metdata.stages.dedup import dedup_and_cap
    from metdata.stages.image import process_image

    urls = Path(url_list).read_text().split()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    session = PoliteSession(rate_per_s=None, max_retries=0, pool_size=THREADS)

    def one(index_url: tuple[int, str]) -> dict:
        index, url = index_url
        row = {"image_index": index % 5, "object": index // 5, "source_url": url, "duplicate_of": None}
        try:
            result = process_image(session.get_bytes(url), max_side_px=MAX_SIDE_PX, jpeg_quality=JPEG_QUALITY)
        except HttpError as exc:
            return {**row, "status": "http_error", "error": str(exc)}
        if result.status == "kept":
            (out / f"{index:05d}.jpg").write_bytes(result.jpeg)
        return {**row, "status": result.status, "sha256": result.sha256, "phash": result.phash,
                "orig_width": result.orig_width, "orig_height": result.orig_height, "error": result.error}

    with ThreadPoolExecutor(THREADS) as pool:
        rows = list(pool.map(one, enumerate(urls)))
    by_object: dict[int, list[dict]] = {}
    for row in rows:
        by_object.setdefault(row["object"], []).append(row)
    final = [r for group in by_object.values() for r in dedup_and_cap(group)]
    print(json.dumps(Counter(r["status"] for r in final)))


# ---------------------------------------------------------------- parent


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], out_dir: Path) -> tuple[float, float, str]:
    """(cpu-s, wall-s, stdout) of one child run, its own children included."""
    shutil.rmtree(out_dir, ignore_errors=True)
    cpu, wall = children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    cpu, wall = children_cpu_s() - cpu, time.perf_counter() - wall
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{done.stderr[-2000:]}")
    return cpu, wall, done.stdout


def img2dataset_command(cli: Path, url_list: Path, out_dir: Path) -> list[str]:
    return [
        str(cli), f"--url_list={url_list}", "--input_format=txt", f"--output_folder={out_dir}",
        "--output_format=files", f"--image_size={MAX_SIDE_PX}", "--resize_mode=keep_ratio_largest",
        "--resize_only_if_bigger=True", f"--encode_quality={JPEG_QUALITY}", "--processes_count=1",
        f"--thread_count={THREADS}", "--timeout=30", "--retries=0", "--enable_wandb=False",
    ]


def count_outputs(out_dir: Path) -> int:
    return sum(1 for _ in out_dir.rglob("*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-img2dataset", action="store_true", help="measure only our pipeline")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--worker-ours", nargs=2, metavar=("URL_LIST", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    if args.worker_ours:
        return run_ours(*args.worker_ours)

    print(f"preparing {args.n_images} large JPEGs and their web-large renditions...", flush=True)
    folder = make_large_jpegs(args.n_images)
    files = sorted(folder.glob("*.jpg"))
    web_large = make_web_large(folder)
    sizes_mb = {"original": sum(f.stat().st_size for f in files) / 1e6 / len(files),
                "web-large": sum(f.stat().st_size for f in web_large.glob("*.jpg")) / 1e6 / len(files)}
    i2d = None if args.skip_img2dataset else ensure_img2dataset()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        url_lists = {}
        for rendition, prefix in (("original", ""), ("web-large", "web-large/")):
            urls = [f"http://127.0.0.1:{port}/{prefix}{f.name}" for f in files]
            for n in (len(urls), 1):
                url_lists[rendition, n] = WORK / f"urls-{rendition}-{n}.txt"
                url_lists[rendition, n].write_text("\n".join(urls[:n]) + "\n")
        ours = [sys.executable, __file__, "--worker-ours"]
        sides = {"ours": ("original", lambda url_list, out: [*ours, str(url_list), str(out)])}
        if i2d is not None:
            sides["img2dataset"] = ("original", lambda url_list, out: img2dataset_command(i2d, url_list, out))
        sides["ours, web-large"] = ("web-large", lambda url_list, out: [*ours, str(url_list), str(out)])
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for round_no in range(args.rounds):
            order = list(sides) if round_no % 2 == 0 else list(sides)[::-1]
            for n in (len(files), 1):
                for name in order:
                    rendition, command = sides[name]
                    out_dir = WORK / "out"
                    cpu, wall, stdout = measure(command(url_lists[rendition, n], out_dir), out_dir)
                    produced = count_outputs(out_dir)
                    statuses = f", statuses {stdout.strip()}" if name.startswith("ours") else ""
                    print(f"round {round_no + 1} {name:15s} {n:4d} urls: {cpu:6.2f} cpu-s {wall:6.2f} s wall, "
                          f"{produced} images written{statuses}", flush=True)
                    if produced != n:
                        raise SystemExit(f"{name} wrote {produced} of {n} images: the comparison is void")
                    runs.setdefault((name, n), []).append((cpu, wall))
    finally:
        server.kill()
        server.wait()
    report(runs, len(files), sizes_mb, args)


def report(runs, n: int, sizes_mb: dict[str, float], args) -> None:
    summary = {}
    for name in ("ours", "img2dataset", "ours, web-large"):
        if (name, n) not in runs:
            continue
        cpu_n = statistics.median(c for c, _ in runs[(name, n)])
        wall_n = statistics.median(w for _, w in runs[(name, n)])
        cpu_1 = statistics.median(c for c, _ in runs[(name, 1)])
        steady_ms = 1000 * (cpu_n - cpu_1) / (n - 1)
        summary[name] = {
            "cpu_ms_per_image_total": 1000 * cpu_n / n, "cpu_ms_per_image_steady": steady_ms,
            "startup_cpu_s": cpu_1, "images_per_s_per_core_steady": 1000 / steady_ms,
            "images_per_s_per_core_total": n / cpu_n, "images_per_s_wall": n / wall_n,
        }
    header = (f"{n} JPEGs of 3000-4000 px ({sizes_mb['original']:.2f} MB each on average; web-large 800 px, "
              f"{sizes_mb['web-large']:.2f} MB) -> {MAX_SIDE_PX} px, loopback, {args.rounds} rounds alternating, "
              f"medians, {os.cpu_count()} cores shared")
    columns = ("| pipeline | cpu-ms/image (steady) | images/s/core (steady) | cpu-ms/image incl. start-up "
               "| start-up cpu-s | images/s wall |")
    lines = [header, "", columns, "|---|---|---|---|---|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['cpu_ms_per_image_steady']:.1f} | {s['images_per_s_per_core_steady']:.1f} | "
                     f"{s['cpu_ms_per_image_total']:.1f} | {s['startup_cpu_s']:.2f} | {s['images_per_s_wall']:.1f} |")
    peer = summary.get("img2dataset")
    for name in ("ours", "ours, web-large"):
        if peer and name in summary:
            steady = summary[name]["images_per_s_per_core_steady"] / peer["images_per_s_per_core_steady"]
            total = summary[name]["images_per_s_per_core_total"] / peer["images_per_s_per_core_total"]
            lines.append(f"ratio {name} / img2dataset, images/s per core: steady {steady:.2f}x, "
                         f"with start-up {total:.2f}x")
    if peer is None:
        lines.append("img2dataset was not measured (skipped or not installable).")
    print("\n".join(lines))
    (WORK / "bench_download.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
