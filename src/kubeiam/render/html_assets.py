"""The HTML report's inline stylesheet and script (no CDN, no fetch: the page works offline)."""

CSS = """
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f9fafb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0; background: var(--bg); }
header, main { max-width: 1200px; margin: 0 auto; padding: 16px 24px; }
header { border-bottom: 1px solid var(--line); background: #fff; max-width: none; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; }
.muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 96px; }
.card b { display: block; font-size: 22px; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; }
.chart-box { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 0; padding: 8px 10px; }
.chart-box figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { max-width: 100%; height: auto; }
td, .grants li, .gaps li, .takeover li { overflow-wrap: anywhere; }  /* ARNs, Azure ids, principal:// */
th { white-space: nowrap; text-align: left; }
td.words { overflow-wrap: break-word; }  /* names and counts: whole words */
svg.chart text { font-size: 12px; fill: var(--fg); } svg.chart text.value, svg.chart text.delta { fill: var(--muted); }
svg.chart g.row[data-facet-key] { cursor: pointer; } svg.chart g.row:hover rect { opacity: .75; }
.sev { display: inline-block; border-radius: 4px; padding: 0 6px; color: #fff; font-size: 12px; font-weight: 600; }
.sev-critical { background:#7f1d1d; } .sev-high { background:#dc2626; } .sev-medium { background:#d97706; }
.sev-low { background:#0891b2; } .sev-info { background:#9ca3af; }
.tag { display: inline-block; border: 1px solid var(--line); border-radius: 4px; padding: 0 5px; font-size: 12px;
       background: #fff; }
.tag-new { border-color: #dc2626; color: #dc2626; } .tag-suppressed { border-color: #6b7280; color: #6b7280; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 10px 0; }
#facet:empty { display: none; }
.filters input, .filters select, .filters button { font: inherit; padding: 4px 8px; }
details.subject { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 8px 0; }
details.subject > summary { cursor: pointer; padding: 8px 12px; list-style-position: inside; }
details.subject[open] > summary { border-bottom: 1px solid var(--line); }
.body { padding: 8px 16px 14px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; background: #fff; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { width: 180px; color: var(--muted); font-weight: 600; }
.finding { border-left: 4px solid var(--line); padding: 6px 12px; margin: 10px 0; }
.finding.critical { border-color:#7f1d1d; } .finding.high { border-color:#dc2626; }
.finding.medium { border-color:#f59e0b; } .finding.low { border-color:#0891b2; }
button.facet { font: inherit; padding: 0 8px; cursor: pointer; }
.meter { display: inline-block; width: 80px; height: 8px; background: var(--line); border-radius: 4px;
         vertical-align: middle; overflow: hidden; }
.meter > span { display: block; height: 100%; background: #0d9488; }
.right-sized { border: 1px dashed var(--line); border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
.before-after { display: flex; flex-wrap: wrap; gap: 12px; }
.before-after > div { flex: 1 1 320px; min-width: 0; }
.before-after h4 { margin: 6px 0; }
.right-sized li, .right-sized p { overflow-wrap: anywhere; }  /* before, drops: operation names, ids */
pre { background: #f3f4f6; padding: 8px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
code { font-size: 12px; }
@media print { .filters { display: none; } details.subject { break-inside: avoid; } }
"""

JS = """
(function () {
  var body = document.body;
  try {
    var rank = {critical: 4, high: 3, medium: 2, low: 1, info: 0};
    var q = document.getElementById('q');
    var sev = document.getElementById('min-severity');
    var items = Array.prototype.slice.call(document.querySelectorAll('details.subject'));
    var facet = null;
    function apply() {
      var text = q.value.toLowerCase(), min = sev.value ? rank[sev.value] : -1, shown = 0;
      items.forEach(function (el) {
        var ok = (!text || el.getAttribute('data-search').indexOf(text) >= 0) &&
          Number(el.getAttribute('data-rank')) >= min &&
          (!facet || (el.getAttribute('data-' + facet[0]) || '').split(' ').indexOf(facet[1]) >= 0);
        el.hidden = !ok;
        if (ok) { shown++; }
      });
      document.getElementById('shown').textContent = String(shown);
      document.getElementById('facet').textContent = facet ? (facet[0] + ': ' + facet[1]) : '';
      document.getElementById('clear').hidden = !facet;
    }
    q.addEventListener('input', apply);
    sev.addEventListener('change', apply);
    Array.prototype.forEach.call(document.querySelectorAll('[data-facet-key]'), function (g) {
      g.addEventListener('click', function () {
        facet = [g.getAttribute('data-facet-key'), g.getAttribute('data-facet-value')];
        apply();
        document.getElementById('drilldown').scrollIntoView();
      });
    });
    document.getElementById('clear').addEventListener('click', function () { facet = null; apply(); });
    document.getElementById('expand').addEventListener('click', function () {
      var open = !items.every(function (el) { return el.open || el.hidden; });
      items.forEach(function (el) { if (!el.hidden) { el.open = open; } });
    });
    function openHash() {
      var id = decodeURIComponent(location.hash.slice(1));
      var el = id && document.getElementById(id);
      if (el && el.tagName === 'DETAILS') {
        // A link to one subject shows that one: the worst-first defaults close.
        items.forEach(function (other) { if (other !== el) { other.open = false; } });
        el.hidden = false; el.open = true; el.scrollIntoView();
      }
    }
    window.addEventListener('hashchange', openHash);
    apply();
    openHash();
    // Self-check for people and for the browser test: how many chart bars were laid out visibly.
    var bars = Array.prototype.slice.call(document.querySelectorAll('svg.chart .bar'));
    body.setAttribute('data-bars-rendered', String(bars.filter(function (b) {
      var r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0;
    }).length));
    var page = document.documentElement;
    body.setAttribute('data-fits-width', String(page.scrollWidth <= page.clientWidth));
    // ...and how many one-word headers or name cells the layout broke across lines (should be none).
    var broken = Array.prototype.slice.call(document.querySelectorAll('th, td.words')).filter(function (c) {
      var text = c.textContent.trim(), range = document.createRange();
      if (!text || /\\s/.test(text)) { return false; }
      range.selectNodeContents(c);
      return range.getClientRects().length > text.split('-').length;  // a line per hyphen part at most
    });
    body.setAttribute('data-words-broken', String(broken.length));
    body.setAttribute('data-ready', '1');
  } catch (e) {
    body.setAttribute('data-error', String(e));
  }
})();
"""
