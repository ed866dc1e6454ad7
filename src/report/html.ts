/**
 * Assembles self-contained HTML pages: uPlot's JS and CSS, our browser code (client.ts,
 * client-heatmap.ts, shipped as function source text) and, for a static report, the model as
 * inline JSON. The result opens offline: no external URL is referenced.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { drawHeatmap } from './client-heatmap.js';
import { renderReport, startDashboard } from './client.js';
import type { ReportModel } from './model.js';

const require = createRequire(import.meta.url);

let assets: { js: string; css: string } | null = null;

/** uPlot's minified browser build and stylesheet, read once from node_modules. */
function uPlotAssets(): { js: string; css: string } {
  if (assets === null) {
    assets = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return assets;
}

/** Escapes text for an HTML text node or attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** JSON that is safe inside a <script> element: no "</script>", "<!--" or U+2028/2029 breaks. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Keeps inline script text from closing its own element. */
function scriptSafe(code: string): string {
  return code.replace(/<\/script/gi, '<\\/script');
}

const PAGE_CSS = `
:root { color-scheme: light; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; background: #f6f7f9; }
.page { max-width: 1600px; margin: 0 auto; padding: 12px 20px 40px; }
header h1 { margin: 8px 0 0; font-size: 22px; }
.muted { color: #666; margin: 4px 0 10px; }
section.fig { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 12px 16px 16px; margin: 14px 0; }
section.fig h2 { margin: 0 0 4px; font-size: 17px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
.card { border: 1px solid #eceef1; border-radius: 4px; padding: 6px 8px; overflow: hidden; background: #fff; }
.card h3 { margin: 2px 0 6px; font-size: 13px; font-weight: 600; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border: 1px solid #dde1e6; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; }
table.summary { display: block; overflow-x: auto; }
tr.differs td { background: #fff3c4; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.bad { color: #b3261e; font-weight: 600; }
.good { color: #2e7d32; }
.warn { color: #a15c00; font-weight: 600; }
pre { background: #f6f7f9; padding: 8px; overflow-x: auto; font-size: 12px; }
.status { position: fixed; top: 8px; right: 12px; padding: 3px 9px; border-radius: 10px; font-size: 12px; background: #e8f5e9; }
.status.bad { background: #fdecea; }
.u-legend { font-size: 12px; }
.grid > .card:only-child { grid-column: 1 / -1; }
table.summary td:first-child { white-space: nowrap; }
/* Figures (--png): legends show names only, not the hover values. */
body.figure-mode .u-legend .u-value, body.figure-mode .u-legend .u-series:first-child { display: none; }
body.figure-mode .u-legend th::after { content: ''; }
`;

function page(title: string, body: string, script: string): string {
  const { js, css } = uPlotAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
${body}
<script>${scriptSafe(js)}</script>
<script>
// Our functions are shipped as source text; a TS loader may wrap names in __name(fn, "name").
function __name(fn) { return fn; }
${scriptSafe(drawHeatmap.toString())}
${scriptSafe(renderReport.toString())}
${scriptSafe(startDashboard.toString())}
${script}
</script>
</body>
</html>
`;
}

/** The static report: one HTML file with the model inlined. */
export function reportHtml(model: ReportModel): string {
  return page(
    model.title,
    `<div id="app"><p>Loading report…</p></div>\n<script type="application/json" id="fog8-data">${scriptSafeJson(model)}</script>`,
    `renderReport(document.getElementById('app'), JSON.parse(document.getElementById('fog8-data').textContent), { uPlot: uPlot, drawHeatmap: drawHeatmap });`,
  );
}

/** The live dashboard shell; it polls api/report every `pollMs` milliseconds. */
export function dashboardHtml(title: string, pollMs: number): string {
  return page(
    title,
    `<div id="status" class="status">connecting…</div>\n<div id="app"><p>Loading runs…</p></div>`,
    `startDashboard(document.getElementById('app'), document.getElementById('status'), { uPlot: uPlot, drawHeatmap: drawHeatmap }, ${Math.max(200, Math.floor(pollMs))});`,
  );
}
