"""The job report: per guest the result, time, changes, warnings and facts.

``job_report`` gathers it from the journal (pure, for JSON); ``render_html``
makes one self-contained page of it: a summary, a sortable table and a bar
chart of conversion times, with its data, styles and script inline so the
file can be mailed or archived on its own.
"""

from __future__ import annotations

import html
import json
import time

from xenshift import __version__
from xenshift.batch.journal import GuestRow, State


def _guest_entry(row: GuestRow) -> dict:
    result = row.result or {}
    report = result.get("report") or {}
    changes = report.get("changes", [])
    counts = report.get("counts", {})
    return {
        "name": row.name,
        "source": row.key,
        "target": row.target,
        "state": row.state.value,
        "attempts": row.attempts,
        "worker": row.worker,
        "location": row.location,
        "seconds": round(row.seconds, 3) if row.seconds is not None else None,
        "error": row.error,
        "changes": sum(counts.get(k, 0) for k in ("changed", "added", "dropped")),
        "counts": counts,
        "warnings": [c["subject"] + ": " + c["reason"] for c in changes
                     if c["kind"] == "warning"],
        "outputs": result.get("outputs", []),
        "notes": result.get("notes", []),
        "facts": (result.get("guest") or {}).get("facts"),
        "readiness": ((result.get("guest") or {}).get("facts") or {}).get("readiness"),
        "boot": result.get("boot"),
        "report": report,
    }


def job_report(job_path: str, rows: list[GuestRow]) -> dict:
    """The whole job as one JSON-ready object."""
    guests = [_guest_entry(r) for r in rows]
    by_state = {s.value: sum(1 for r in rows if r.state is s) for s in State}
    return {
        "job": job_path,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "xenshift": __version__,
        "summary": {
            "guests": len(rows), **by_state,
            "seconds": round(sum(r.seconds or 0 for r in rows), 3),
            "changes": sum(g["changes"] for g in guests),
            "warnings": sum(len(g["warnings"]) for g in guests),
        },
        "guests": guests,
    }


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>xen-batch report: %(title)s</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: .6em 1em; min-width: 7em; }
.card b { display: block; font-size: 1.6em; }
.done b { color: #1a7f37; } .failed b { color: #c62828; }
table { border-collapse: collapse; width: 100%%; }
th, td { border-bottom: 1px solid #ddd; padding: .35em .6em; text-align: left;
         vertical-align: top; }
th { cursor: pointer; background: #f4f4f4; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25b2"; }
th[aria-sort=descending]::after { content: " \\25bc"; }
tr.failed td.state { color: #c62828; font-weight: bold; }
tr.done td.state { color: #1a7f37; }
.bar { fill: #3b7dd8; } .bar.failed { fill: #c62828; }
svg text { font-size: 12px; }
.error { white-space: pre-wrap; font-family: monospace; font-size: .85em; }
.detail { white-space: pre-line; font-size: .9em; }
</style></head>
<body>
<h1>xen-batch report: %(title)s</h1>
<p>Generated %(generated)s by xenshift %(version)s.</p>
<div class="cards" id="summary"></div>
<h2>Conversion time per guest</h2>
<svg id="chart" role="img" aria-label="conversion time per guest"></svg>
<h2>Guests</h2>
<table id="guests"><thead><tr>
<th data-key="name">Guest</th><th data-key="target">Target</th>
<th data-key="state">Result</th><th data-key="seconds">Time (s)</th>
<th data-key="worker">Worker</th>
<th data-key="changes">Changes</th><th data-key="warnings">Warnings</th>
<th data-key="detail">Details</th></tr></thead><tbody></tbody></table>
<script type="application/json" id="data">%(data)s</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const guests = data.guests;
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function summary() {
  const box = document.getElementById("summary");
  const s = data.summary;
  for (const [label, value, cls] of [["guests", s.guests, ""], ["done", s.done, "done"],
      ["failed", s.failed, "failed"], ["pending", s.pending + s.running, ""],
      ["total time (s)", s.seconds.toFixed(1), ""], ["changes", s.changes, ""],
      ["warnings", s.warnings, ""]]) {
    const card = el("div", {class: "card " + cls, id: "card-" + label.split(" ")[0]});
    card.appendChild(el("b", {}, String(value)));
    card.appendChild(document.createTextNode(label));
    box.appendChild(card);
  }
}
function chart() {
  const svg = document.getElementById("chart");
  const ns = "http://www.w3.org/2000/svg";
  const rowH = 20, left = 180, width = 520;
  const max = Math.max(0.001, ...guests.map(g => g.seconds || 0));
  svg.setAttribute("width", left + width + 80);
  svg.setAttribute("height", rowH * guests.length + 10);
  guests.forEach((g, i) => {
    const y = 5 + i * rowH;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 0); label.setAttribute("y", y + 14);
    label.textContent = g.name;
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("class", "bar " + g.state);
    bar.setAttribute("x", left); bar.setAttribute("y", y + 3);
    bar.setAttribute("height", rowH - 6);
    bar.setAttribute("width", Math.max(1, width * (g.seconds || 0) / max));
    bar.setAttribute("data-guest", g.name);
    const value = document.createElementNS(ns, "text");
    value.setAttribute("x", left + width * (g.seconds || 0) / max + 6);
    value.setAttribute("y", y + 14);
    const s = g.seconds || 0;
    value.textContent = s.toFixed(s < 10 ? 2 : 1) + " s";
    svg.append(label, bar, value);
  });
}
function detail(g) {
  if (g.error) return el("div", {class: "error"}, g.error);
  const parts = [];
  if (g.location) parts.push("output: " + g.location);
  if (g.outputs.length) parts.push("outputs: " + g.outputs.join(", "));
  if (g.readiness) parts.push("readiness: " + JSON.stringify(g.readiness));
  for (const w of g.warnings) parts.push("warning: " + w);
  return el("div", {class: "detail"}, parts.join("\\n"));
}
// A guest settled without a cluster worker was converted by a local run.
function workerOf(g) {
  return g.worker ?? (g.state === "done" || g.state === "failed" ? "local" : "");
}
function cell(g, key) {
  if (key === "worker") return workerOf(g);
  if (key === "warnings") return g.warnings.length;
  if (key === "detail") return g.error ? 1 : 0;
  return g[key];
}
function fill() {
  const body = document.querySelector("#guests tbody");
  body.replaceChildren();
  for (const g of guests) {
    const tr = el("tr", {class: g.state, "data-guest": g.name});
    tr.appendChild(el("td", {}, g.name));
    tr.appendChild(el("td", {}, g.target));
    tr.appendChild(el("td", {class: "state"}, g.state));
    tr.appendChild(el("td", {}, g.seconds === null ? "" : g.seconds.toFixed(2)));
    tr.appendChild(el("td", {class: "worker"}, workerOf(g)));
    tr.appendChild(el("td", {}, String(g.changes)));
    tr.appendChild(el("td", {}, String(g.warnings.length)));
    const td = el("td", {}); td.appendChild(detail(g)); tr.appendChild(td);
    body.appendChild(tr);
  }
}
function sortBy(key, descending) {
  guests.sort((a, b) => {
    const x = cell(a, key), y = cell(b, key);
    const c = (typeof x === "number" && typeof y === "number") ? x - y
      : String(x ?? "").localeCompare(String(y ?? ""));
    return descending ? -c : c;
  });
  for (const th of document.querySelectorAll("#guests th"))
    th.removeAttribute("aria-sort");
  document.querySelector(`#guests th[data-key="${key}"]`)
    .setAttribute("aria-sort", descending ? "descending" : "ascending");
  fill();
}
for (const th of document.querySelectorAll("#guests th")) {
  th.addEventListener("click", () =>
    sortBy(th.dataset.key, th.getAttribute("aria-sort") === "ascending"));
}
summary(); chart(); fill();
// #sort=KEY or #sort=KEY-desc opens the page sorted, e.g. from a link.
const wanted = /^#sort=([a-z]+)(-desc)?$/.exec(location.hash);
if (wanted) sortBy(wanted[1], Boolean(wanted[2]));
</script>
</body></html>
"""


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page."""
    # "</" inside the embedded JSON would end the script element early.
    data = json.dumps(report, ensure_ascii=False).replace("</", "<\\/")
    return _PAGE % {"title": html.escape(report["job"]),
                    "generated": html.escape(report["generated"]),
                    "version": html.escape(report["xenshift"]),
                    "data": data}
