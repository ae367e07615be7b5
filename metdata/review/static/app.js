// metdata review: one item at a time, fetched in pages; every decision is POSTed and saved at once.
"use strict";

const PAGE_SIZE = 50;
const pages = new Map(); // page number -> Promise of that page's items
let total = 0;
let current = 0;
let item = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== "") {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function fetchJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function loadPage(page) {
  if (!pages.has(page)) {
    const promise = fetchJSON(`/api/items?offset=${page * PAGE_SIZE}&limit=${PAGE_SIZE}`).then((data) => {
      total = data.total;
      return data.items;
    });
    promise.catch(() => pages.delete(page)); // let a later visit retry
    pages.set(page, promise);
  }
  return pages.get(page);
}

async function itemAt(index) {
  const page = Math.floor(index / PAGE_SIZE);
  const items = await loadPage(page);
  if ((index % PAGE_SIZE) + 5 >= PAGE_SIZE && (page + 1) * PAGE_SIZE < total) loadPage(page + 1); // prefetch
  return items[index - page * PAGE_SIZE];
}

async function show(index) {
  if (total) index = Math.max(0, Math.min(total - 1, index));
  try {
    const next = await itemAt(index);
    if (!next) {
      $("item").replaceChildren(el("p", { class: "empty" }, "Nothing to review."));
      return;
    }
    current = index;
    item = next;
    history.replaceState(null, "", `#${index + 1}`);
    render();
  } catch (error) {
    setStatus(`Could not load items: ${error.message}`, true);
  }
}

function describeDecision(decision) {
  if (!decision) {
    const auto = (item.candidates || []).find((c) => c.auto_accept);
    return auto
      ? ["", `No decision yet; linked automatically to candidate 1 (object ${auto.object_id}): 1 confirms, r rejects.`]
      : ["", "No decision yet."];
  }
  const when = decision.decided_at ? ` (${decision.decided_at})` : "";
  if (decision.decision === "accept" && decision.item_kind === "query") {
    const rank = (item.candidates || []).findIndex((c) => c.object_id === decision.object_id);
    const which = rank >= 0 ? `candidate ${rank + 1}, ` : "";
    return ["accept", `Accepted: ${which}object ${decision.object_id}${when}`];
  }
  if (decision.decision === "accept") return ["accept", `Confirmed as a distractor${when}`];
  if (decision.decision === "reject") {
    return ["reject", item.item_kind === "query" ? `Rejected all candidates${when}` : `Rejected as a distractor${when}`];
  }
  return ["skip", `Skipped${when}`];
}

function photoPanel() {
  const lines = [];
  if (item.item_kind === "query") {
    lines.push(el("p", { class: "meta" }, `Query photo ${item.item_id} · ${item.source} · by ${item.photographer || "?"}`));
    if (item.description) lines.push(el("p", { class: "meta description" }, item.description.replace(/<[^>]+>/g, "")));
    if (item.tags.length) lines.push(el("p", { class: "meta tags" }, item.tags.map((t) => el("span", {}, t))));
    if (item.page_url) lines.push(el("p", { class: "meta" }, el("a", { href: item.page_url, target: "_blank", rel: "noopener" }, "source page")));
  } else {
    lines.push(el("p", { class: "meta" }, `Distractor ${item.item_id} · labelled ${item.kind === "art" ? "art (other)" : "no art"}`));
    lines.push(el("p", { class: "meta" }, `Category: ${item.category || "?"} · ${item.license || "licence ?"}`));
    if (item.artist) lines.push(el("p", { class: "meta" }, `Artist: ${item.artist}`));
    if (item.source_page) lines.push(el("p", { class: "meta" }, el("a", { href: item.source_page, target: "_blank", rel: "noopener" }, "source page")));
  }
  const [cls, text] = describeDecision(item.decision);
  return el(
    "section",
    { class: "photo" },
    item.item_kind === "query" ? el("img", { src: item.image, alt: "query photo" }) : null,
    el("h2", {}, item.title || "(untitled)"),
    lines,
    el("div", { id: "decision", class: `decision ${cls}` }, text),
    actions(),
  );
}

function actions() {
  const buttons = [];
  if (item.item_kind === "query") {
    const input = el("input", { id: "manual-object", type: "text", inputmode: "numeric", placeholder: "object id" });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") acceptTyped();
      if (event.key === "Escape") input.blur();
      event.stopPropagation();
    });
    buttons.push(
      el("button", { id: "reject", type: "button", class: "danger", onclick: () => decide("reject") }, "Reject all (r)"),
      el("button", { id: "skip", type: "button", onclick: () => decide("skip") }, "Skip (s)"),
      input,
      el("button", { id: "accept-typed", type: "button", onclick: acceptTyped }, "Accept id"),
    );
  } else {
    buttons.push(
      el("button", { id: "confirm", type: "button", class: "primary", onclick: () => decide("accept") }, "Confirm distractor (a)"),
      el("button", { id: "reject", type: "button", class: "danger", onclick: () => decide("reject") }, "Reject (r)"),
      el("button", { id: "skip", type: "button", onclick: () => decide("skip") }, "Skip (s)"),
    );
  }
  return el("div", { class: "actions" }, buttons);
}

function acceptTyped() {
  const value = $("manual-object").value.trim();
  if (!/^\d+$/.test(value)) {
    setStatus("Type a numeric Met object id.", true);
    return;
  }
  decide("accept", Number(value));
}

function candidateCard(candidate, n) {
  const chosen = item.decision && item.decision.decision === "accept" && item.decision.object_id === candidate.object_id;
  const field = (name, value) => (value ? [el("dt", {}, name), el("dd", {}, value)] : []);
  const images = candidate.images.length
    ? candidate.images.map((src, i) => el("img", { src, alt: `exhibit ${i + 1} of object ${candidate.object_id}`, loading: "lazy" }))
    : [el("p", { class: "none" }, "no exhibit image")];
  return el(
    "li",
    { class: `candidate${chosen ? " chosen" : ""}${candidate.auto_accept ? " auto" : ""}`, "data-object-id": candidate.object_id },
    el("div", { class: "head" }, el("span", { class: "badge" }, n), el("h3", {}, candidate.title || "(untitled)")),
    el("div", { class: "thumbs" }, images),
    el(
      "dl",
      {},
      field("Artist", candidate.artist),
      field("Date", candidate.date),
      field("Accession", candidate.accession_number),
      field("Department", candidate.department),
      field("Object", `${candidate.object_id} (${candidate.n_images} image${candidate.n_images === 1 ? "" : "s"})`),
      [el("dt", {}, "Score"), el("dd", { class: "score" }, `${candidate.score.toFixed(1)} · ${candidate.matched_on}`)],
    ),
    el(
      "button",
      { type: "button", class: "primary accept", onclick: () => decide("accept", candidate.object_id) },
      n <= 9 ? `Accept (${n})` : "Accept",
    ),
  );
}

function render() {
  $("position").textContent = `Item ${current + 1} of ${total} · ${item.item_kind}`;
  const right =
    item.item_kind === "query"
      ? item.candidates.length
        ? el("ol", { class: "candidates" }, item.candidates.map((c, i) => candidateCard(c, i + 1)))
        : el("p", { class: "none" }, "No text-match candidates: reject, skip, or type the object id.")
      : el(
          "figure",
          { class: "distractor-view" },
          el("img", { src: item.image, alt: "distractor image" }),
          el("figcaption", {}, `Is this ${item.kind === "art" ? "a work of art" : "free of art"}, public domain, and not a Met object?`),
        );
  $("item").replaceChildren(photoPanel(), right);
}

async function decide(decision, objectId = null) {
  if (!item) return;
  const body = { item_kind: item.item_kind, item_id: item.item_id, decision, object_id: objectId };
  try {
    const { saved } = await fetchJSON("/api/decisions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    item.decision = saved;
    setStatus(`Saved: ${item.item_kind} ${item.item_id} → ${decision}${objectId !== null ? ` ${objectId}` : ""}`);
    if (current + 1 < total) await show(current + 1);
    else render();
  } catch (error) {
    setStatus(`Not saved: ${error.message}`, true);
  }
}

async function nextPending() {
  const { index } = await fetchJSON(`/api/next-pending?after=${current}`);
  if (index === null) setStatus("Every item has a decision.");
  else await show(index);
}

document.addEventListener("keydown", (event) => {
  if (!item || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  let handled = true;
  if (key === "ArrowRight" || key === "j") show(current + 1);
  else if (key === "ArrowLeft" || key === "k") show(current - 1);
  else if (key === "r") decide("reject");
  else if (key === "s") decide("skip");
  else if (key === "n") nextPending();
  else if (key === "o" && item.item_kind === "query") $("manual-object").focus();
  else if (item.item_kind === "distractor" && (key === "a" || key === "1")) decide("accept");
  else if (item.item_kind === "query" && /^[1-9]$/.test(key) && Number(key) <= item.candidates.length) {
    decide("accept", item.candidates[Number(key) - 1].object_id);
  } else handled = false;
  if (handled) event.preventDefault();
});

$("prev").addEventListener("click", () => show(current - 1));
$("next").addEventListener("click", () => show(current + 1));
$("next-pending").addEventListener("click", nextPending);

show(Math.max(0, (parseInt(location.hash.slice(1), 10) || 1) - 1));
