"""One self-contained HTML page about a dataset and a prediction run on it.

It holds the statistics table and plots (stats.py), the score table, the precision curve over the
ranked queries, and the MET paper's qualitative panels: correctly recognised queries, wrong ones, and
distractors predicted with high confidence, each beside exhibit thumbnails of the predicted class
(and, for wrong answers, of the true class). Images are embedded as data URIs, so the file travels alone.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from metdata import manifests
from metdata.bench import metrics, stats
from metdata.bench.score import load_ground_truth, read_predictions

THUMB_SIDE_PX = 160
PANEL_SIZE = 8
EXHIBITS_PER_CLASS = 3


@dataclass
class Ranked:
    """The scored queries in rank order (highest confidence first)."""

    keys: list[str]
    pred: np.ndarray
    conf: np.ndarray
    label: np.ndarray
    is_met: np.ndarray
    rel: np.ndarray


def rank_predictions(predictions: Path, gt_path: Path) -> tuple[metrics.Scores, Ranked]:
    gt = load_ground_truth(gt_path)
    preds = read_predictions(predictions, gt)
    scores = metrics.evaluate(preds.pred, preds.conf, gt.labels, gt.is_met)
    order = metrics.rank(preds.conf)
    rel = metrics.correct(preds.pred, gt.labels, gt.is_met)
    keys = gt.keys.to_pylist()
    ranked = Ranked(
        keys=[keys[i] for i in order],
        pred=preds.pred[order],
        conf=preds.conf[order],
        label=gt.labels[order],
        is_met=gt.is_met[order],
        rel=rel[order],
    )
    return scores, ranked


def precision_curve_png(ranked: Ranked) -> bytes:
    """P(k) over the ranked queries, with the correct answers marked: the area GAP summarises."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = np.arange(1, len(ranked.rel) + 1)
    precision = np.cumsum(ranked.rel) / k
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(k, precision, color="#4c72b0", label="precision at rank k")
    hits = np.flatnonzero(ranked.rel)
    ax.scatter(k[hits], precision[hits], s=8, color="#55a868", label="correct Met answer", zorder=3)
    ax.set(xlabel="rank k (queries sorted by confidence)", ylabel="P(k)", ylim=(0, 1.02))
    ax.legend(loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _thumb_uri(path: Path) -> str:
    try:
        with Image.open(path) as im:
            im.draft("RGB", (THUMB_SIDE_PX, THUMB_SIDE_PX))
            im = im.convert("RGB")
            im.thumbnail((THUMB_SIDE_PX, THUMB_SIDE_PX))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=80)
    except OSError:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _img(uri: str, caption: str) -> str:
    if not uri:
        return f'<figure class="missing"><figcaption>{html.escape(caption)} (no image)</figcaption></figure>'
    return f'<figure><img src="{uri}" alt=""><figcaption>{html.escape(caption)}</figcaption></figure>'


def _class_thumbs(root: Path, object_id: int, label: str) -> str:
    folder = root / "images" / "MET" / str(object_id)
    files = sorted(folder.glob("*.jpg"), key=lambda p: p.stem)[:EXHIBITS_PER_CLASS]
    if not files:
        return _img("", f"{label} {object_id}")
    return "".join(_img(_thumb_uri(f), f"{label} {object_id}") for f in files)


def _panel(root: Path, ranked: Ranked, picks: np.ndarray, title: str, show_truth: bool) -> str:
    rows = []
    for i in picks[:PANEL_SIZE]:
        query = _img(_thumb_uri(root / "images" / ranked.keys[i]), f"{ranked.keys[i]}  conf {ranked.conf[i]:.3g}")
        row = query + _class_thumbs(root, int(ranked.pred[i]), "predicted")
        if show_truth and ranked.is_met[i]:
            row += _class_thumbs(root, int(ranked.label[i]), "true")
        rows.append(f'<div class="row">{row}</div>')
    body = "".join(rows) or "<p>none</p>"
    return f"<h3>{html.escape(title)}</h3>{body}"


def build(root: str | Path, predictions: str | Path, gt: str | Path, out: str | Path) -> Path:
    """Write the report for `predictions` scored against `gt` on dataset ROOT to `out`; return its path."""
    root, out = Path(root), Path(out)
    dataset = stats.compute(root)
    plots = stats.write_plots(dataset, out.parent / (out.stem + "_plots"))
    scores, ranked = rank_predictions(Path(predictions), Path(gt))

    correct = np.flatnonzero(ranked.rel)
    wrong = np.flatnonzero(ranked.is_met & ~ranked.rel)
    distractors = np.flatnonzero(~ranked.is_met)
    score_rows = "".join(
        f"<tr><th>{name}</th><td>{100 * value:.2f}</td></tr>"
        for name, value in (("GAP", scores.gap), ("GAP⁻ (no distractors)", scores.gap_minus), ("ACC", scores.acc))
    )
    tie_note = (
        f"<p>{scores.n_tied} queries share a confidence with another; GAP ranges from "
        f"{100 * scores.gap_worst_ties:.2f} to {100 * scores.gap_best_ties:.2f} over their orders "
        "(reported: ties kept in ground-truth order).</p>"
        if scores.n_tied
        else ""
    )
    figures = "".join(f'<img class="plot" src="{_png_uri(p.read_bytes())}" alt="{n}">' for n, p in plots.items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>metdata report: {html.escape(root.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 10px; text-align: left; }}
pre {{ background: #f5f5f5; padding: 1em; display: inline-block; }}
.plot {{ max-width: 32%; margin-right: 1%; }}
.row {{ display: flex; gap: 6px; margin-bottom: 8px; align-items: flex-end; }}
figure {{ margin: 0; text-align: center; font-size: 11px; }}
figure img {{ max-height: {THUMB_SIDE_PX}px; display: block; }}
figure:first-child {{ border-right: 3px solid #888; padding-right: 6px; }}
</style></head><body>
<h1>metdata report: {html.escape(str(root))}</h1>
<h2>Dataset</h2><pre>{html.escape(stats.format_table(dataset))}</pre>
<div>{figures}</div>
<h2>Scores</h2>
<p>{html.escape(str(predictions))} against {html.escape(str(gt))}:
{scores.n_queries} queries, {scores.n_met} of them Met queries.</p>
<table>{score_rows}</table>{tie_note}
<h2>Precision over the ranked queries</h2>
<img class="plot" style="max-width:60%" src="{_png_uri(precision_curve_png(ranked))}" alt="precision curve">
<h2>Examples</h2>
<p>Each row: the query (left), then exhibits of the predicted class; wrong answers also show the true class.</p>
{_panel(root, ranked, correct, "Correctly recognised, most confident first", False)}
{_panel(root, ranked, wrong, "Wrong, most confident first", True)}
{_panel(root, ranked, distractors, "Distractors predicted with the highest confidence", False)}
</body></html>
"""
    with manifests.atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
