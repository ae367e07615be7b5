"""A Commons-only world with one large category (more files than one imageinfo request thumbnails),
for the iicontinue and miser-mode tests; the sample museum's categories are all smaller than 50."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from metdata.sample.commons_names import file_name, original_path
from metdata.sample.model import CommonsCategory, CommonsFile, World
from metdata.sample.world_commons import PD, extmetadata_entries

BIG = "Big test category"
SUBCATS = [f"Empty subcategory {i}" for i in range(6)]  # sorted before the files: empty first pages


def _jpeg(i: int) -> bytes:
    image = Image.new("RGB", (600, 400), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    image.paste((255 - (i * 37) % 256, 0, 0), (i % 500, 0, i % 500 + 100, 400))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def build_big_world(n_files: int = 120) -> World:
    files, renderers = {}, {}
    for i in range(n_files):
        pageid = 200_000_000 + i
        title = f"File:Test pattern {i:03d}.jpg"
        data = _jpeg(i)
        path = original_path(file_name(title))
        files[pageid] = CommonsFile(
            pageid=pageid, title=title, category=BIG, kind="noart",
            extmetadata=extmetadata_entries({"ObjectName": title[5:-4], **PD.values}), width=600, height=400,
            image_path=path, sha1=hashlib.sha1(data).hexdigest(), timestamp="2020-05-01T10:00:00Z",
        )
        renderers[path] = lambda data=data: data
    categories = {BIG: CommonsCategory(BIG, subcategories=list(SUBCATS), files=sorted(files))}
    categories.update({name: CommonsCategory(name) for name in SUBCATS})
    return World(seed=0, objects={}, departments=[], photographers=[], photos=[], commons_files=files,
                 commons_categories=categories, own_photos=[], renderers=renderers)
