"""Dataset statistics as in the MET paper's statistics table, and the plots that go with them.

Everything is computed from the manifests and, when present, the splits; nothing here touches images.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from metdata import manifests
from metdata.bench.splits import summarise_queryset
from metdata.errors import UserError

IMAGES_PER_CLASS_BINS = list(range(1, 11))


@dataclass
class SplitStats:
    images: int = 0
    classes: int = 0
    met_queries: int = 0
    photographers: int = 0
    art_distractors: int = 0
    noart_distractors: int = 0


@dataclass
class DatasetStats:
    exhibit_images: int
    classes: int
    departments: int
    queries: int  # kept query candidates
    met_queries: int  # queries linked to a Met object
    met_query_classes: int
    art_distractors: int
    noart_distractors: int
    images_per_class: dict[int, int]  # n images -> number of classes
    queries_per_department: dict[str, int]
    drop_reasons: dict[str, int]  # status -> rows, over every manifest of images
    splits: dict[str, SplitStats] = field(default_factory=dict)


def _optional(root: Path, name: str):
    path = manifests.manifest_path(root, name)
    return manifests.read(path, name) if path.exists() else None


def compute(root: str | Path) -> DatasetStats:
    """Read ROOT's manifests (exhibits required) and splits (optional) into DatasetStats."""
    root = Path(root)
    exhibits = manifests.read(manifests.manifest_path(root, "exhibits"), "exhibits")
    objects = _optional(root, "objects")
    queries = _optional(root, "queries")
    distractors = _optional(root, "distractors")

    kept = exhibits.filter(pc.equal(exhibits["status"], "kept"))
    per_class = Counter(kept["object_id"].to_pylist())
    images_per_class = Counter(per_class.values())
    department_of = {}
    if objects is not None:
        department_of = dict(zip(objects["object_id"].to_pylist(), objects["department"].to_pylist()))

    drop_reasons: Counter[str] = Counter()
    for table in (exhibits, queries, distractors):
        if table is not None:
            drop_reasons.update(table["status"].to_pylist())

    met_ids: list[int] = []
    n_queries = 0
    if queries is not None:
        kept_queries = queries.filter(pc.equal(queries["status"], "kept"))
        n_queries = kept_queries.num_rows
        met_ids = [i for i in kept_queries["met_object_id"].to_pylist() if i is not None]
    splits = _split_stats(root)
    if "val" in splits or "test" in splits:  # accepted review links live in the splits
        met_ids = [i for s in ("val", "test") for i in _split_met_ids(root, s)]

    kinds = Counter()
    if distractors is not None:
        kept_d = distractors.filter(pc.equal(distractors["status"], "kept"))
        kinds.update(kept_d["kind"].to_pylist())

    return DatasetStats(
        exhibit_images=kept.num_rows,
        classes=len(per_class),
        departments=len({department_of.get(o) for o in per_class if department_of.get(o)}),
        queries=n_queries,
        met_queries=len(met_ids),
        met_query_classes=len(set(met_ids)),
        art_distractors=kinds["art"],
        noart_distractors=kinds["noart"],
        images_per_class={n: images_per_class.get(n, 0) for n in IMAGES_PER_CLASS_BINS},
        queries_per_department=dict(Counter(department_of.get(i, "unknown") for i in met_ids).most_common()),
        drop_reasons=dict(drop_reasons.most_common()),
        splits=splits,
    )


def _split_met_ids(root: Path, split: str) -> list[int]:
    path = manifests.split_path(root, split)
    if not path.exists():
        return []
    table = manifests.read(path, "queryset")
    return [i for i in table["met_id"].to_pylist() if i is not None]


def _split_stats(root: Path) -> dict[str, SplitStats]:
    out: dict[str, SplitStats] = {}
    train_path = manifests.split_path(root, "train")
    if train_path.exists():
        train = manifests.read(train_path, "train")
        out["train"] = SplitStats(images=train.num_rows, classes=len(set(train["object_id"].to_pylist())))
    for split in ("val", "test"):
        path = manifests.split_path(root, split)
        if not path.exists():
            continue
        out[split] = SplitStats(**summarise_queryset(manifests.read(path, "queryset").to_pylist()))
    return out


def format_table(stats: DatasetStats) -> str:
    """The paper-style table as fixed-width text."""
    lines = [
        f"{'exhibit images':<28}{stats.exhibit_images:>10,}",
        f"{'classes (Met objects)':<28}{stats.classes:>10,}",
        f"{'departments':<28}{stats.departments:>10,}",
        f"{'query photos (kept)':<28}{stats.queries:>10,}",
        f"{'Met queries':<28}{stats.met_queries:>10,}",
        f"{'classes among Met queries':<28}{stats.met_query_classes:>10,}",
        f"{'distractors: art':<28}{stats.art_distractors:>10,}",
        f"{'distractors: non-art':<28}{stats.noart_distractors:>10,}",
    ]
    if stats.splits:
        lines += ["", f"{'split':<8}{'images':>9}{'classes':>9}{'Met q.':>8}{'photogr.':>10}{'art':>7}{'non-art':>9}"]
        for name, s in stats.splits.items():
            query_columns = (
                f"{s.met_queries:>8,}{s.photographers:>10,}{s.art_distractors:>7,}{s.noart_distractors:>9,}"
                if name != "train"  # the exhibits: no queries, photographers or distractors
                else f"{'-':>8}{'-':>10}{'-':>7}{'-':>9}"
            )
            lines.append(f"{name:<8}{s.images:>9,}{s.classes:>9,}{query_columns}")
    return "\n".join(lines)


def write_plots(stats: DatasetStats, out_dir: str | Path) -> dict[str, Path]:
    """The long-tail histogram, queries per department and drop reasons as PNG files in out_dir."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    if stats.exhibit_images == 0:
        raise UserError(f"no kept exhibit images, so there is nothing to plot into {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = {}

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(list(stats.images_per_class), list(stats.images_per_class.values()), color="#4c72b0")
    ax.set(xlabel="images per class", ylabel="classes", title="Long tail of exhibit images per class")
    ax.set_xticks(IMAGES_PER_CLASS_BINS)
    plots["images_per_class"] = _save(fig, out_dir / "images_per_class.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    departments = stats.queries_per_department or {"(no Met queries)": 0}
    ax.barh(list(departments)[::-1], list(departments.values())[::-1], color="#55a868")
    ax.set(xlabel="Met queries", title="Met queries per department")
    plots["queries_per_department"] = _save(fig, out_dir / "queries_per_department.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    reasons = stats.drop_reasons
    ax.barh(list(reasons)[::-1], list(reasons.values())[::-1], color="#c44e52")
    ax.set(xlabel="candidate images", title="Outcome of every candidate image", xscale="log")
    plots["drop_reasons"] = _save(fig, out_dir / "drop_reasons.png")
    return plots


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with manifests.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
