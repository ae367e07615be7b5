"""The review page in a real headless Chromium (Debian's), driven by keys and clicks as a person would.

Screenshots go to test-artifacts/review/. CI (.ci/run) installs Chromium and sets
METDATA_REQUIRE_BROWSER=1, so a missing browser fails there instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_review_store import make_root, run_cli

from metdata import manifests
from metdata.review import store
from metdata.review.app import ReviewServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "review"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser_page():
    if not Path(CHROMIUM).exists():
        if os.environ.get("METDATA_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (CI installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def test_a_reviewer_decides_with_keys_and_buttons_and_everything_persists(browser_page, tmp_path):
    from playwright.sync_api import expect

    page = browser_page
    root = make_root(tmp_path / "root")
    server = ReviewServer(root)
    try:
        page.goto(server.url)
        position, decision = page.locator("#position"), page.locator("#decision")
        expect(position).to_have_text("Item 1 of 6 · query")
        cards = page.locator(".candidate")
        expect(cards.first.locator("h3")).to_have_text("Wheat Field with Cypresses")
        second_choice = int(cards.nth(1).get_attribute("data-object-id"))
        page.wait_for_function("[...document.images].every(im => im.complete && im.naturalWidth > 0)")
        page.screenshot(path=str(ARTIFACTS / "01-query-with-candidates.png"), full_page=True)

        page.keyboard.press("2")  # accept candidate 2 of item 1 (advances)
        expect(position).to_have_text("Item 2 of 6 · query")
        page.keyboard.press("r")  # reject item 2
        expect(position).to_have_text("Item 3 of 6 · query")
        page.keyboard.press("s")  # skip item 3
        expect(position).to_have_text("Item 4 of 6 · query")
        page.keyboard.press("ArrowLeft")
        expect(position).to_have_text("Item 3 of 6 · query")
        expect(decision).to_contain_text("Skipped")
        page.keyboard.press("k")
        expect(decision).to_contain_text("Rejected all candidates")
        page.keyboard.press("j")
        page.keyboard.press("ArrowRight")
        expect(position).to_have_text("Item 4 of 6 · query")
        expect(page.locator(".candidates")).to_have_count(0)  # no text match: type the object id
        page.keyboard.press("o")
        page.keyboard.type("106")
        page.keyboard.press("Enter")
        expect(position).to_have_text("Item 5 of 6 · distractor")
        page.screenshot(path=str(ARTIFACTS / "02-distractor.png"), full_page=True)
        page.get_by_role("button", name="Confirm distractor (a)").click()
        expect(position).to_have_text("Item 6 of 6 · distractor")
        page.get_by_role("button", name="Reject (r)").click()
        expect(decision).to_contain_text("Rejected as a distractor")
        page.get_by_role("button", name="Next undecided").click()
        expect(page.locator("#status")).to_have_text("Every item has a decision.")

        page.reload()  # the server is the memory, not the page
        expect(position).to_have_text("Item 6 of 6 · distractor")
        expect(decision).to_contain_text("Rejected as a distractor")
        page.goto(server.url + "#1")
        page.reload()
        expect(position).to_have_text("Item 1 of 6 · query")
        expect(decision).to_contain_text(f"Accepted: candidate 2, object {second_choice}")
        expect(page.locator(".candidate.chosen")).to_have_attribute("data-object-id", str(second_choice))
        page.wait_for_function("[...document.images].every(im => im.complete && im.naturalWidth > 0)")
        page.screenshot(path=str(ARTIFACTS / "03-after-reload.png"), full_page=True)
    finally:
        server.stop()

    records = [json.loads(line) for line in store.decisions_path(root).read_text().splitlines()]
    assert [(r["item_id"], r["decision"], r["object_id"]) for r in records] == [
        ("a00000000001", "accept", second_choice),
        ("a00000000002", "reject", None),
        ("a00000000003", "skip", None),
        ("a00000000004", "accept", 106),
        ("d00000000001", "accept", None),
        ("d00000000002", "reject", None),
    ]
    out = manifests.manifest_path(root, "decisions")
    assert run_cli("review", "--root", str(root), "--export", str(out)).exit_code == 0
    exported = {
        r["item_id"]: (r["decision"], r["object_id"]) for r in manifests.read(out, "decisions").to_pylist()
    }
    assert exported["a00000000001"] == ("accept", second_choice)
    assert exported["d00000000002"] == ("reject", None)
    links = store.accepted_links(root)
    assert links["a00000000001"] == second_choice and links["a00000000004"] == 106
    assert "a00000000002" not in links
    assert store.rejected_distractors(root) == {"d00000000002"}


def test_items_beyond_the_first_page_load_as_one_navigates(browser_page, tmp_path):
    from PIL import Image, ImageDraw
    from playwright.sync_api import expect

    root = tmp_path / "many"
    queries = []
    for n in range(120):
        qid = f"{n:012x}"
        path = root / f"images/test_met/{qid}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        im = Image.new("RGB", (120, 90), (n * 2, 90, 160))
        ImageDraw.Draw(im).text((10, 10), str(n), fill="white")
        im.save(path)
        queries.append({"query_id": qid, "source": "own", "title": f"photo {n}", "status": "kept",
                        "path": f"images/test_met/{qid}.jpg"})  # fmt: skip
    manifests.write(queries, manifests.manifest_path(root, "queries"), "queries")
    manifests.write([{"object_id": 1, "title": "Vase", "status": "ok"}], manifests.manifest_path(root, "objects"),
                    "objects")  # fmt: skip
    server = ReviewServer(root)
    page = browser_page
    try:
        page.goto(server.url + "#50")
        position = page.locator("#position")
        expect(position).to_have_text("Item 50 of 120 · query")
        page.keyboard.press("j")  # crosses into the second page of 50
        expect(position).to_have_text("Item 51 of 120 · query")
        expect(page.locator(".photo h2")).to_have_text("photo 50")
        page.keyboard.press("s")
        expect(position).to_have_text("Item 52 of 120 · query")
        page.goto(server.url + "#120")
        page.reload()
        expect(page.locator(".photo h2")).to_have_text("photo 119")
        page.keyboard.press("r")  # the last item: stays, shows the decision
        expect(page.locator("#decision")).to_contain_text("Rejected all candidates")
        page.keyboard.press("n")  # next undecided wraps around to the first item
        expect(position).to_have_text("Item 1 of 120 · query")
        page.screenshot(path=str(ARTIFACTS / "04-paging.png"))
    finally:
        server.stop()
    assert [(r["item_id"], r["decision"]) for r in store.read_jsonl(store.decisions_path(root))] == [
        (f"{50:012x}", "skip"),
        (f"{119:012x}", "reject"),
    ]
