"""Inline CSS and script of the HTML report (kept apart from the page logic)."""

PAGE_STYLE = """
:root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --accent:#2563eb;
        --warn-bg:#fffbeb; --warn:#b45309; }
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin:0; background:var(--bg); color:var(--ink); line-height:1.5;
       font:14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; }
.wrap { max-width:1360px; margin:0 auto; padding:0 28px; }
header { background:linear-gradient(120deg,#0f172a 0%,#1e3a8a 100%); color:#f8fafc;
         padding:28px 0 0; margin-bottom:28px; }
header h1 { margin:4px 0 6px; font-size:28px; font-weight:650; letter-spacing:-0.01em; }
.eyebrow { text-transform:uppercase; letter-spacing:.12em; font-size:11px; color:#93c5fd; }
.meta { color:#cbd5e1; font-size:13px; }
nav { display:flex; flex-wrap:wrap; gap:4px; margin-top:18px; }
nav a { color:#e2e8f0; text-decoration:none; padding:8px 12px; border-radius:8px 8px 0 0;
        font-size:13px; }
nav a:hover { background:rgba(255,255,255,.12); }
section { background:#fff; border:1px solid var(--line); border-radius:12px;
          padding:20px 24px 24px; margin-bottom:24px; box-shadow:0 1px 2px rgba(0,0,0,.03); }
h2 { margin:0 0 14px; font-size:20px; font-weight:650; }
h3 { margin:22px 0 8px; font-size:13px; text-transform:uppercase; letter-spacing:.06em;
     color:var(--muted); font-weight:600; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(170px,1fr)); gap:12px;
         margin-bottom:18px; }
.card { border:1px solid var(--line); border-radius:10px; padding:12px 14px; background:#fbfdff; }
.card .k { font-size:11px; text-transform:uppercase; letter-spacing:.08em; color:var(--muted); }
.card .v { font-size:22px; font-weight:650; margin-top:2px; overflow-wrap:anywhere; }
.card .v.long { font-size:14px; font-weight:600; line-height:1.4; margin-top:6px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:11px;
     text-transform:uppercase; letter-spacing:.05em; border-bottom:1px solid var(--line);
     padding:6px 10px; }
td { border-bottom:1px solid #f1f5f9; padding:7px 10px; vertical-align:top; }
tbody tr:hover { background:#f8fafc; }
table.compact td { padding:3px 10px; font-size:12px; }
table.events td:nth-last-child(-n+6) { white-space:nowrap; }
td code { white-space:nowrap; }
.sub { display:block; color:var(--muted); font-size:11px; }
code { font-family:"SFMono-Regular", Menlo, Consolas, monospace; font-size:12px;
       background:#f1f5f9; padding:1px 5px; border-radius:4px; }
code.cfg { display:inline-block; max-width:420px; white-space:pre-wrap; word-break:break-all; }
.tag { display:inline-block; font-size:10px; padding:1px 6px; border-radius:999px;
       background:#e0e7ff; color:#3730a3; vertical-align:middle; margin-left:4px; }
.tag.warn { background:#fef3c7; color:var(--warn); }
.warning { background:var(--warn-bg); border:1px solid #fde68a; color:#78350f;
           border-radius:8px; padding:10px 14px; margin:0 0 14px; }
.muted { color:var(--muted); }
.two { display:grid; grid-template-columns:minmax(260px,1fr) 2fr; gap:28px; }
@media (max-width:900px) { .two { grid-template-columns:1fr; } }
dl { display:grid; grid-template-columns:max-content 1fr; gap:4px 14px; margin:0;
     font-size:13px; }
dt { color:var(--muted); }
dd { margin:0; overflow-wrap:anywhere; }
details { margin-top:14px; }
summary { cursor:pointer; color:var(--accent); font-size:13px; }
details table { margin-top:8px; }
.figs { display:flex; flex-wrap:wrap; gap:18px; margin-top:16px; align-items:flex-start; }
figure { margin:0; border:1px solid var(--line); border-radius:10px; padding:12px;
         background:#fff; flex:0 1 auto; }
figcaption { font-size:12.5px; color:#374151; margin-bottom:8px; }
figure img { display:block; max-width:100%; height:auto; }
.circuit-task { border-top:1px solid var(--line); margin-top:18px; padding-top:6px; }
.circuit-task h4 { margin:10px 0 4px; font-size:16px; font-weight:650; }
h5 { margin:18px 0 6px; font-size:12px; font-weight:600; color:#374151; }
table.roles { max-width:900px; }
footer { color:var(--muted); font-size:12px; padding-bottom:40px; }
a { color:var(--accent); }
"""

#: Marks the root element once every image has decoded (``data-report-ready="ok"``), so a
#: headless browser, or a person, can tell a broken embed from a slow one.
PAGE_SCRIPT = """
(function () {
  function check() {
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
    var root = document.documentElement;
    root.setAttribute('data-images-total', String(imgs.length));
    root.setAttribute('data-images-loaded', String(ok));
    root.setAttribute('data-report-ready', ok === imgs.length ? 'ok' : 'broken');
  }
  window.addEventListener('load', check);
})();
"""
