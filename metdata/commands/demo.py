"""`metdata demo`: the whole pipeline on the embedded sample museum, served on loopback.

Each step is the real command a user would type, run against the sample museum's stand-in services
(nothing reaches the internet), and printed before it runs. Only two steps are the sample's own: writing
its "own photos" folder, and a scripted reviewer that answers from the sample's ground truth where a
person would use `metdata review`.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import click

LOOPBACK_RATE_PER_S = "200"  # the stand-ins run on this machine: no need for the real services' pacing
DEMO_CONTACT = "metdata-demo@example.org"
DEMO_WHITEN_DIM = 128


def _run(args: list[str]) -> None:
    """Print and run one metdata command in this process (errors propagate to the CLI's one-line handler)."""
    from metdata.cli import cli

    click.echo()
    click.secho("$ metdata " + shlex.join(args), bold=True)
    cli.main(args=args, prog_name="metdata", standalone_mode=False)


def _note(text: str) -> None:
    click.echo()
    click.secho(f"# {text}", fg="cyan")


def _art_and_noart_categories(world) -> tuple[list[str], list[str]]:
    """The sample's categories by the kind of files they hold (files in two categories are crawled once)."""
    art, noart = [], []
    for name, category in world.commons_categories.items():
        kinds = {world.commons_files[p].kind for p in category.files}
        if kinds == {"art"}:
            art.append(name)
        elif kinds == {"noart"}:
            noart.append(name)
    return art, noart


def run_demo(out: Path, seed: int, n_objects: int = 300) -> dict:
    """Crawl, match, review, split, describe, predict, score and report; return the test scores."""
    from metdata.matching import sample_ground_truth, write_ground_truth
    from metdata.sample.reviewer import review_from_ground_truth
    from metdata.sample.services import start_sample_server
    from metdata.sample.world import build_world
    from metdata.sample.world_flickr import write_own_photos

    started = time.monotonic()
    server = start_sample_server(world=build_world(seed, n_objects=n_objects))
    world = server.world
    sample_dir = out / "sample"
    fast = ["--rate-per-s", LOOPBACK_RATE_PER_S]
    try:
        click.echo(f"Sample museum on {server.url}: Met API {server.met_api_url}, Flickr {server.flickr_rest_url}, "
                   f"Commons {server.commons_api_url}")
        _run(["crawl", "met", "--out", str(out), "--api-url", server.met_api_url, *fast])

        photographers = sample_dir / "photographers.txt"
        photographers.parent.mkdir(parents=True, exist_ok=True)
        photographers.write_text("".join(f"{p.nsid}\n" for p in world.photographers), encoding="utf-8")
        _run(["crawl", "flickr", "--out", str(out), "--user-ids-file", str(photographers),
              "--api-key", "demokey", "--api-secret", "demosecret", "--rest-url", server.flickr_rest_url,
              "--static-url", server.flickr_static_url, *fast, "--image-rate-per-s", LOOPBACK_RATE_PER_S])

        _note("the sample's own photos (taken in the galleries, with a CSV naming each photo's object)")
        own_csv = write_own_photos(world, sample_dir / "own-photos")
        _run(["import-photos", str(own_csv.parent), "--root", str(out), "--photographer", "Demo Visitor",
              "--objects-csv", str(own_csv)])

        art, noart = _art_and_noart_categories(world)
        for kind, categories in (("art", art), ("noart", noart)):
            _run(["crawl", "wikimedia", "--out", str(out), *[a for c in categories for a in ("--category", c)],
                  "--kind", kind, "--depth", "1", "--api-url", server.commons_api_url, *fast,
                  "--contact", DEMO_CONTACT])
    finally:
        server.stop()

    truth_csv = sample_dir / "match-ground-truth.csv"
    write_ground_truth(truth_csv, sample_ground_truth(world, out))
    _run(["match", "--root", str(out), "--ground-truth", str(truth_csv)])

    _note("the manual check: here the sample's ground truth plays the reviewer (on real data: metdata review)")
    for decision, count in sorted(review_from_ground_truth(world, out).items()):
        click.echo(f"   {decision}: {count}")

    _run(["build-splits", "--root", str(out)])
    _run(["features", "--root", str(out)])
    predictions = out / "predictions"
    predictions.mkdir(exist_ok=True)
    _note(f"PCA-whitening to {DEMO_WHITEN_DIM}-D: the paper's 512-D whitening was learned on 397,121 exhibits; "
          "on a few hundred it is degenerate")
    _run(["knn", "--root", str(out), "--split", "test", "--whiten-dim", str(DEMO_WHITEN_DIM),
          "--out", str(predictions / "test.csv")])
    _run(["score", str(predictions / "test.csv"), "--gt", str(out / "splits" / "test.parquet")])
    _run(["report", "--root", str(out), "--predictions", str(predictions / "test.csv")])

    from metdata.bench.score import score_file

    scores = score_file(predictions / "test.csv", out / "splits" / "test.parquet")
    scores["elapsed_s"] = round(time.monotonic() - started, 1)
    (out / "demo-scores.json").write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    return scores


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's dataset root (run again to resume or reuse it).")
@click.option("--seed", default=0, show_default=True, help="Seed of the sample museum's world.")
@click.option("--objects", "n_objects", type=click.IntRange(min=100), default=300, show_default=True,
              help="Artworks in the sample museum (the real ones and the edge cases are always in).")
def demo(out: Path, seed: int, n_objects: int):
    """Run the whole pipeline end to end on the embedded sample museum (loopback only, no internet).

    \b
    Starts the sample museum's stand-in Met, Flickr and Wikimedia Commons services on a free loopback
    port, then runs, printing each command as a user would type it:
      crawl met, crawl flickr, import-photos, crawl wikimedia (art and non-art)   -> manifests/*.parquet
      match (with the sample's ground truth: recall@1/@10), the manual check      -> review/decisions.jsonl
      build-splits, features (EfficientNet-Lite0, GeM, multi-scale), knn (K and t tuned on val)
      score (GAP, GAP-, ACC on test) and report                                    -> ROOT/report.html
    """
    scores = run_demo(out, seed, n_objects)
    click.echo()
    click.secho("== The sample museum's test set", bold=True)
    click.echo(f"   queries {scores['n_queries']} (Met {scores['n_met']}):  GAP {100 * scores['gap']:.2f}   "
               f"GAP- {100 * scores['gap_minus']:.2f}   ACC {100 * scores['acc']:.2f}")
    click.echo(f"   report: {out / 'report.html'}")
    click.echo(f"   done in {scores['elapsed_s']:.0f} s; the dataset root is {out}")
