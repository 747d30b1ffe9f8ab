"""The leaderboard page's inline stylesheet and script: plain CSS and vanilla JavaScript, no
library and no network, so that the page works from ``file://``.

The script enhances the plain tables of :mod:`.page` (which read fine without it): a click on a
column header sorts the rows by that column (by each cell's ``data-sort`` number, else its text;
empty cells last), a second click reverses; the split, track and K selectors hide what does
not match (``data-split``, ``data-track``, ``data-k``; K=0 belongs to every track).
"""

STYLE = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;--ref:#eef1f4;--accent:#0969da}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
  max-width:1500px;margin:0 auto;padding:1em 1.5em 3em}
h1{margin:.2em 0 .3em}h2{margin:1.6em 0 .4em;font-size:1.25em}
p.intro{color:var(--muted);max-width:75em;margin:.3em 0}
.controls{display:flex;flex-wrap:wrap;gap:1.2em;align-items:center;position:sticky;top:0;z-index:2;
  background:#fff;padding:.6em 0;border-bottom:1px solid var(--line)}
.controls label{font-weight:600}.controls select{margin-left:.4em;font:inherit;padding:2px 4px}
.controls .hint{color:var(--muted);font-size:.9em}
.legend{display:flex;flex-wrap:wrap;gap:.4em 1.2em;margin:.8em 0;font-size:.92em;color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.4em 0 1em;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:4px 8px;white-space:nowrap}
th{background:var(--head);text-align:left;vertical-align:bottom;cursor:pointer;user-select:none;
  white-space:normal;min-width:4em}
th:hover,th:focus{background:#eaeef2;outline:none}
th[aria-sort]::after{content:" \\2195";color:#aab}
th[aria-sort=ascending]::after{content:" \\25B2";color:var(--accent)}
th[aria-sort=descending]::after{content:" \\25BC";color:var(--accent)}
td.num{text-align:right}
td .ci{color:var(--muted);font-size:.88em}
tbody tr:nth-child(even){background:#fafbfc}
tr.ref,tr.ref:nth-child(even){background:var(--ref);font-style:italic;color:#444}
tr.ref td:first-child{border-left:4px solid #8c959f}
tr.baseline td{font-weight:600}
.badge{display:inline-block;border-radius:9px;padding:0 7px;font-size:.8em;font-style:normal;
  font-weight:600;line-height:1.6;border:1px solid transparent;margin-left:.35em;white-space:nowrap}
td.verdict .badge{margin-left:0}
.b-ref{background:#fff;border-color:#8c959f;color:#444}
.b-priv{background:#fff8c5;border-color:#d4a72c;color:#7d4e00}
.b-base{background:#ddf4ff;border-color:#54aeff;color:#0550ae}
.b-flag{background:#ffebe9;border-color:#ff8182;color:#a40e26}
.v-verified-identical{background:#dafbe1;border-color:#4ac26b;color:#116329}
.v-verified-consistent{background:#ddf4ff;border-color:#54aeff;color:#0550ae}
.v-differs{background:#ffebe9;border-color:#ff8182;color:#a40e26}
.v-not-verified{background:#f6f8fa;border-color:var(--line);color:var(--muted);font-weight:400}
.figures{display:grid;grid-template-columns:1fr;gap:1em;max-width:1200px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:.5em;background:#fff}
figure img{max-width:100%;height:auto;display:block;margin:auto}
figcaption{color:var(--muted);font-size:.9em;margin-top:.3em;text-align:center}
ul.notes li{margin:.2em 0}details summary{cursor:pointer;color:var(--accent)}
[hidden]{display:none !important}
"""

SCRIPT = """
(function () {
  "use strict";
  function sortKey(cell) {
    var raw = cell.getAttribute("data-sort");
    var text = raw === null ? cell.textContent.trim() : raw;
    if (text === "" || text === "\u2013") { return null; }  // empty or a dash: no value
    return raw !== null && !isNaN(Number(raw)) ? Number(raw) : text;
  }
  function compare(x, y) {
    if (typeof x === "number" && typeof y === "number") { return x - y; }
    return String(x).localeCompare(String(y), undefined, {numeric: true});
  }
  function sortBy(table, col, direction) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var sign = direction === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[col]), y = sortKey(b.cells[col]);
      if (x === null || y === null) { return (x === null) - (y === null); }  // empty last
      return sign * compare(x, y);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.setAttribute("aria-sort", i === col ? direction : "none");
    });
  }
  function sortable(table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      if (!th.hasAttribute("aria-sort")) { th.setAttribute("aria-sort", "none"); }
      th.tabIndex = 0;
      th.title = "sort by this column";
      function go() {
        var next = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        sortBy(table, i, next);
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
    });
  }
  function shown(el, f) {
    var d = el.dataset;
    if (d.split !== undefined && f.split !== "all" && d.split !== f.split) { return false; }
    if (d.k === undefined) { return true; }
    if (f.k !== "all" && d.k !== f.k) { return false; }
    return f.track === "all" || d.k === "0" || d.track === f.track;
  }
  function applyFilters() {
    var f = {};
    document.querySelectorAll("select[data-filter]").forEach(function (s) {
      f[s.getAttribute("data-filter")] = s.value;
    });
    document.querySelectorAll("main [data-split], main [data-k]").forEach(function (el) {
      el.hidden = !shown(el, f);
    });
  }
  document.querySelectorAll("main table").forEach(sortable);
  document.querySelectorAll("select[data-filter]").forEach(function (s) {
    s.addEventListener("change", applyFilters);
  });
  var controls = document.getElementById("controls");
  if (controls) { controls.hidden = false; }
  applyFilters();
})();
"""
