/**
 * Browser code: lays out a ReportModel (summary, sections of uPlot charts and canvas heatmaps,
 * config table) into a root element. Shipped to the page as this function's source text
 * (html.ts), so it must stay self-contained; uPlot and drawHeatmap arrive as arguments.
 * Every chart card carries data-expected-series / data-rendered-series and every heatmap
 * data-expected-layers / data-rendered-layers, which the browser test compares.
 */
import type uPlot from 'uplot';
import type { drawHeatmap as DrawHeatmap } from './client-heatmap.js';
import type { ChartSpec, HeatmapSpec, ReportModel, RunSummary } from './model.js';

export interface ClientDeps {
  uPlot: typeof uPlot;
  drawHeatmap: typeof DrawHeatmap;
}

/** Renders `model` into `root` (replacing its content); returns a function that frees the charts. */
export function renderReport(root: HTMLElement, model: ReportModel, deps: ClientDeps): () => void {
  const plots: uPlot[] = [];
  function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string>, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  }
  function num(v: number | null, digits = 4): string {
    if (v === null || !Number.isFinite(v)) return '—';
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return a >= 1000 ? v.toFixed(0) : v.toPrecision(digits);
  }
  function si(v: number | null): string {
    if (v === null || v === undefined) return '';
    const a = Math.abs(v);
    if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
    if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
    if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
    return `${+v.toPrecision(3)}`;
  }
  // uPlot passes null for axis splits it hides (e.g. crowded log decades) despite its types.
  function axisValue(v: number | null): string {
    if (v === null || v === undefined) return '';
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    return `${+v.toPrecision(4)}`;
  }

  function summaryTable(runs: RunSummary[]): HTMLElement {
    const head = ['run', 'preset', 'size', 'precision', 'steps', 'tokens', 'final train loss', 'final val loss', 'min val loss', 'mean tokens/s',
      'kurtosis activation peak / final', 'kurtosis qkv_input peak / final', 'max attn logit peak', 'FP8 overflow peak (%)', 'FP8 underflow peak (%)', 'FP8 rel. error peak', 'diverged', 'rollbacks', 'skipped lines', 'downstream tasks (acc / acc_norm ± s.e.)'];
    const table = el('table', { class: 'summary' }, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))));
    const body = el('tbody', {});
    for (const r of runs) {
      const skipped = `${r.malformedLines}${r.partialTail ? ' + partial last line' : ''}`;
      body.append(el('tr', {},
        el('td', {}, el('span', { class: 'swatch', style: `background:${r.color}` }), r.name),
        el('td', {}, r.preset), el('td', {}, r.size), el('td', {}, r.precision),
        el('td', {}, String(r.steps)), el('td', {}, si(r.tokens)),
        el('td', {}, num(r.finalTrainLoss)), el('td', {}, num(r.finalValLoss)), el('td', {}, num(r.minValLoss)),
        el('td', {}, num(r.meanTokensPerSec, 3)),
        el('td', {}, `${num(r.peakActivationKurtosis, 3)} / ${num(r.finalActivationKurtosis, 3)}`),
        el('td', {}, `${num(r.peakQkvInputKurtosis, 3)} / ${num(r.finalQkvInputKurtosis, 3)}`),
        el('td', {}, num(r.peakMaxAttentionLogit, 3)),
        el('td', {}, num(r.peakOverflowPct, 3)), el('td', {}, num(r.peakUnderflowPct, 3)), el('td', {}, num(r.peakRelErr, 3)),
        el('td', { class: r.diverged ? 'bad' : 'good', title: r.divergedReason }, r.diverged ? `yes (${r.divergedReason})` : 'no'),
        el('td', { class: r.rollbacks.length > 0 ? 'warn' : '' }, r.rollbacks.length === 0 ? '—' : r.rollbacks.join('; ')),
        el('td', { class: r.malformedLines > 0 || r.partialTail ? 'warn' : '', 'data-malformed': String(r.malformedLines) }, skipped),
        el('td', { 'data-tasks': String(r.tasks.length) }, r.tasks.length === 0 ? '–' : r.tasks.map((t) =>
          `${t.task}: ${num(t.acc, 3)} / ${t.accNorm === null ? '–' : num(t.accNorm, 3)} ± ${num(t.accStderr, 2)} (${t.items} items, step ${t.step ?? '?'})`).join('; '))));
    }
    table.append(body);
    return table;
  }

  function chartCard(spec: ChartSpec): HTMLElement {
    const plotDiv = el('div', { class: 'plot' });
    const card = el('div', { class: 'card chart', 'data-chart': spec.id, 'data-expected-series': String(spec.series.length) }, el('h3', {}, spec.title), plotDiv);
    return card;
  }

  function mountChart(card: HTMLElement, spec: ChartSpec): void {
    const plotDiv = card.querySelector('.plot');
    if (!(plotDiv instanceof HTMLElement)) throw new Error(`chart ${spec.id}: missing plot element`);
    const anyValue = spec.series.some((s) => s.values.some((v) => v !== null));
    const yLog = spec.yLog && anyValue;
    const width = Math.max(320, Math.floor(plotDiv.clientWidth || 520));
    const opts: uPlot.Options = {
      width,
      height: 260,
      scales: { x: { time: false }, y: { distr: yLog ? 3 : 1 } },
      axes: [
        { label: spec.xLabel, values: (_u, splits) => splits.map((v) => (spec.xFormat === 'tokens' ? si(v) : axisValue(v))) },
        { label: spec.yLabel, size: 64, values: (_u, splits) => splits.map((v) => axisValue(v)) },
      ],
      series: [
        { label: spec.xLabel, value: (_u, v) => (v === null ? '—' : spec.xFormat === 'tokens' ? si(v) : String(v)) },
        ...spec.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          dash: s.dash ? [6, 4] : [],
          spanGaps: true,
          points: { show: s.points, size: 6, fill: s.color },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : axisValue(v)),
        })),
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false } },
    };
    const data: uPlot.AlignedData = [spec.x, ...spec.series.map((s) => s.values)];
    const plot = new deps.uPlot(opts, data, plotDiv);
    plots.push(plot);
    card.dataset.renderedSeries = String(plot.series.length - 1);
  }

  function heatmapCard(spec: HeatmapSpec): HTMLElement {
    return el('div', { class: 'card heatmap', 'data-heatmap': spec.id, 'data-expected-layers': String(spec.layerCount) }, el('h3', {}, spec.title));
  }

  function mountHeatmap(card: HTMLElement, spec: HeatmapSpec): void {
    const layers = deps.drawHeatmap(card, spec, Math.max(320, Math.floor(card.clientWidth - 16 || 520)));
    card.dataset.renderedLayers = String(layers);
  }

  const page = el('div', { class: 'page' });
  page.append(el('header', {}, el('h1', {}, model.title), el('p', { class: 'muted' }, `${model.runs.length} run(s) · generated ${model.generatedAt}`)));

  const totalSkipped = model.runs.reduce((a, r) => a + r.malformedLines, 0);
  const summary = el('section', { class: 'fig', 'data-section': 'summary', id: 'summary' }, el('h2', {}, 'Summary'), summaryTable(model.runs));
  const notes = model.runs.filter((r) => r.malformedLines > 0 || r.partialTail || r.configError !== null);
  if (notes.length > 0) {
    summary.append(el('ul', { class: 'notes' }, ...notes.map((r) => el('li', {}, `${r.name}: ${[
      r.malformedLines > 0 ? `${r.malformedLines} malformed metrics line(s) skipped` : '',
      r.partialTail ? 'last metrics line incomplete (still being written?)' : '',
      r.configError ?? '',
    ].filter((s) => s !== '').join('; ')}`))));
  }
  page.append(summary);
  root.dataset.malformedTotal = String(totalSkipped);

  const mounts: (() => void)[] = [];
  for (const section of model.sections) {
    const grid = el('div', { class: 'grid' });
    const sec = el('section', { class: 'fig', 'data-section': section.id, id: section.id }, el('h2', {}, section.title), el('p', { class: 'muted' }, section.description), grid);
    for (const item of section.items) {
      const card = item.kind === 'chart' ? chartCard(item) : heatmapCard(item);
      grid.append(card);
      mounts.push(() => {
        try {
          if (item.kind === 'chart') mountChart(card, item);
          else mountHeatmap(card, item);
        } catch (err) {
          card.append(el('p', { class: 'bad' }, `failed to draw: ${String(err)}`));
          console.error(`fog8 report: ${item.id}:`, err);
        }
      });
    }
    page.append(sec);
  }

  const cfg = el('section', { class: 'fig', 'data-section': 'config', id: 'config' }, el('h2', {}, 'Resolved configs'));
  const differing = model.configRows.filter((r) => r.differs).length;
  cfg.append(el('p', { class: 'muted' }, `${differing} of ${model.configRows.length} fields differ between runs (highlighted).`));
  const cfgTable = el('table', { class: 'config' }, el('thead', {}, el('tr', {}, el('th', {}, 'field'), ...model.configRuns.map((n) => el('th', {}, n)))));
  const cfgBody = el('tbody', {});
  for (const row of model.configRows) cfgBody.append(el('tr', { class: row.differs ? 'differs' : '' }, el('td', {}, row.key), ...row.values.map((v) => el('td', {}, v))));
  cfgTable.append(cfgBody);
  cfg.append(cfgTable);
  page.append(cfg);

  const logs = el('section', { class: 'fig', 'data-section': 'logs', id: 'logs' }, el('h2', {}, 'Training logs (last lines)'));
  for (const r of model.runs) {
    logs.append(el('details', {}, el('summary', {}, `${r.name}${r.lastEvent ? ` — ${r.lastEvent}` : ''}`), el('pre', {}, r.logTail.join('\n') || '(no train.log)')));
  }
  page.append(logs);

  root.replaceChildren(page);
  for (const mount of mounts) mount();
  root.dataset.rendered = 'true';
  return () => {
    for (const p of plots) p.destroy();
  };
}

/** Dashboard boot: polls /api/report (keeping the page's query string) and re-renders on change. */
export function startDashboard(root: HTMLElement, status: HTMLElement, deps: ClientDeps, pollMs: number): void {
  let lastKey = '';
  let destroy: (() => void) | null = null;
  async function tick(): Promise<void> {
    try {
      const res = await fetch(`api/report${window.location.search}`, { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const model = (await res.json()) as ReportModel;
      const key = JSON.stringify({ ...model, generatedAt: '' });
      if (key !== lastKey) {
        lastKey = key;
        const y = window.scrollY;
        if (destroy) destroy();
        destroy = renderReport(root, model, deps);
        window.scrollTo(0, y);
      }
      status.textContent = `live · ${model.runs.length} run(s) · updated ${new Date().toLocaleTimeString()}`;
      status.className = 'status ok';
    } catch (err) {
      status.textContent = `cannot refresh: ${String(err)}`;
      status.className = 'status bad';
    }
    setTimeout(() => void tick(), pollMs);
  }
  void tick();
}
