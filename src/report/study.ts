/**
 * `fog8 study stability`: the paper's experiment in miniature (issue 11). A fixed protocol — the
 * architectures × {bf16, fp8-delayed with FP8DPA} × learning rates × seeds — trained as a sweep
 * (sweep.ts: resumable, shardable), then summarised as a self-contained HTML page (matrix, loss
 * curves as inline SVG) and a short markdown summary with numbers: which runs diverged or
 * degraded, FP8 − BF16 per architecture, what attention logits and FP8 underflow did before
 * trouble, and the spike forecaster evaluated on held-out seeds (forecast-eval.ts).
 */
import { cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DEFAULT_SPIKE_OPTIONS, detectSpikes } from '../monitor/spikes.js';
import { forecastEval, formatForecastEval, telemetryOf, type ForecastEvalResult } from './forecast-eval.js';
import { escapeHtml } from './html.js';
import { loadRun, type RunData } from './load.js';
import { formatStat, formatSweepTable, lrLabel, type SweepRunEntry, type SweepSummary } from './sweep.js';

/** The protocol: what `fog8 study stability` trains by default (see docs/studies/). */
export interface StudyProtocol {
  presets: string[];
  precisions: string[];
  lrs: number[];
  seeds: number[];
  /** train flags shared by every run */
  train: string[];
}

export const STABILITY_PROTOCOL: Readonly<StudyProtocol> = Object.freeze({
  presets: ['llama3', 'llama3-smooth-swiglu', 'op', 'fog-xielu', 'fog-gelu'],
  precisions: ['bf16', 'fp8-delayed'],
  lrs: [3e-3, 1e-2, 2e-2],
  seeds: [1, 2, 3],
  // 90 runs of 120 steps × 512 tokens of `small` (5.2 M parameters): ≈ 40 s each at 2 threads, ≈ 60 min in all.
  train: ['--size', 'small', '--seq', '64', '--batch', '8', '--steps', '120', '--warmup', '20', '--fp8-attention', 'true',
    '--eval-interval', '40', '--eval-batches', '4', '--metrics-interval', '5', '--checkpoint-interval', '0', '--progress', 'none'],
});

export interface StudyFindings {
  /** per (preset, lr): FP8 − BF16 final val loss, mean ± std over seeds */
  gaps: { preset: string; lr: number; gap: string; bf16Diverged: string; fp8Diverged: string }[];
  /** runs that diverged, with the step and the telemetry just before the onset */
  troubled: { run: string; divergedAt: number | null; spikes: number; before: BeforeTrouble | null }[];
  /** FP8 runs that diverged while their BF16 twin (same preset, lr, seed) did not */
  fp8Only: string[];
  bf16Only: string[];
  /** total training seconds summed over runs (the 2-core budget is checked against this) */
  trainSeconds: number;
}

/** Telemetry at the last metrics interval before a spike onset, and at the first interval. */
export interface BeforeTrouble {
  onset: number;
  at: number;
  maxLogit: number | null;
  maxLogitFirst: number | null;
  unfP: number | null;
  unfDs: number | null;
  relErrP: number | null;
  ovfMax: number | null;
  kurtActivation: number | null;
}

function telemetryAt(run: RunData, step: number): Omit<BeforeTrouble, 'onset' | 'at' | 'maxLogitFirst'> {
  const t = run.records.tensors.find((r) => r.step === step);
  const f = run.records.fp8.find((r) => r.step === step);
  const attn = (role: string, field: 'underflowPct' | 'relErr'): number | null => {
    const v = (f?.casts ?? []).filter((c) => c.gemm === 'attn.dpa' && c.role === role).map((c) => c[field]).filter((x): x is number => typeof x === 'number');
    return v.length === 0 ? null : Math.max(...v);
  };
  const act = t?.stats.filter((s) => s.tensor === 'activation').map((s) => s.kurtosis) ?? [];
  return {
    maxLogit: t && t.maxAttentionLogit.length > 0 ? Math.max(...t.maxAttentionLogit) : null,
    unfP: attn('p', 'underflowPct'),
    unfDs: attn('ds', 'underflowPct'),
    relErrP: attn('p', 'relErr'),
    ovfMax: f && f.casts.length > 0 ? Math.max(...f.casts.map((c) => c.overflowPct)) : null,
    kurtActivation: act.length === 0 ? null : act.reduce((a, b) => a + b, 0) / act.length,
  };
}

export function beforeTrouble(run: RunData): BeforeTrouble | null {
  const steps = run.records.steps;
  const err = run.records.events.find((e) => e.level === 'error');
  const sp = detectSpikes(steps.map((s) => ({ step: s.step, loss: s.skipped ? null : s.loss })), DEFAULT_SPIKE_OPTIONS, err ? { step: err.step } : null);
  const onset = sp.episodes.length > 0 ? sp.episodes[0].onset : sp.divergedAt;
  if (onset === null) return null;
  const prior = run.records.tensors.filter((t) => t.step < onset);
  if (prior.length === 0) return null;
  const at = prior[prior.length - 1].step;
  const first = run.records.tensors[0];
  return { onset, at, maxLogitFirst: first.maxAttentionLogit.length > 0 ? Math.max(...first.maxAttentionLogit) : null, ...telemetryAt(run, at) };
}

export function studyFindings(summary: SweepSummary, load: (dir: string) => RunData): StudyFindings {
  const gaps: StudyFindings['gaps'] = [];
  for (const c of summary.cells.filter((x) => x.precision !== 'bf16')) {
    const twin = summary.cells.find((x) => x.precision === 'bf16' && x.preset === c.preset && x.lr === c.lr);
    gaps.push({ preset: c.preset, lr: c.lr, gap: formatStat(c.stats.gapVsBf16, 'gapVsBf16'), bf16Diverged: twin ? formatStat(twin.stats.diverged, 'diverged') : '—', fp8Diverged: formatStat(c.stats.diverged, 'diverged') });
  }
  const troubled: StudyFindings['troubled'] = [];
  const fp8Only: string[] = [];
  const bf16Only: string[] = [];
  let trainSeconds = 0;
  const finished = summary.runs.filter((r) => r.finished && r.metrics);
  for (const r of finished) {
    const data = load(r.dir);
    trainSeconds += data.records.steps.reduce((s, x) => s + x.stepTimeMs / 1000, 0);
    const m = r.metrics as NonNullable<SweepRunEntry['metrics']>;
    if (m.diverged || m.spikes > 0) troubled.push({ run: r.name, divergedAt: m.divergedAt, spikes: m.spikes, before: beforeTrouble(data) });
    if (r.precision === 'bf16') continue;
    const twin = finished.find((t) => t.precision === 'bf16' && t.preset === r.preset && t.lr === r.lr && t.seed === r.seed);
    if (!twin?.metrics) continue;
    if (m.diverged && !twin.metrics.diverged) fp8Only.push(r.name);
    if (!m.diverged && twin.metrics.diverged) bf16Only.push(twin.name);
  }
  return { gaps, troubled, fp8Only, bf16Only, trainSeconds };
}

/** Machine description for the summary (what produced the numbers). */
export function machineLine(runs: readonly RunData[]): string {
  const c = cpus();
  const kernels = [...new Set(runs.flatMap((r) => r.records.runs.map((h) => h.kernels)))].join(', ');
  return `${c[0]?.model ?? 'unknown CPU'}, ${c.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; kernels ${kernels}`;
}

const n = (v: number | null, d = 3): string => (v === null || !Number.isFinite(v) ? '—' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(d));

export function studyMarkdown(o: { summary: SweepSummary; findings: StudyFindings; forecast: ForecastEvalResult | null; forecastError: string | null; command: string; machine: string; wallSeconds: number | null }): string {
  const { summary, findings } = o;
  const lines: string[] = [];
  lines.push('# fog8 stability study', '');
  lines.push(`Command: \`${o.command}\``, '');
  lines.push(`Machine: ${o.machine}.`, '');
  lines.push(`Runs: ${summary.runs.filter((r) => r.finished).length} of ${summary.runs.length} finished; training time summed over runs ${(findings.trainSeconds / 60).toFixed(1)} min${o.wallSeconds === null ? '' : `, wall ${(o.wallSeconds / 60).toFixed(1)} min`}.`, '');
  lines.push(`Definitions: spike = EMA(β = ${summary.spike.beta}) of the training loss ≥ ${summary.spike.threshold} nat above its running minimum (after ${summary.spike.minSteps} steps), or a non-finite step; diverged = the run ended inside a spike or stopped on non-finite steps. Gap = FP8 final val loss − its BF16 twin's (same preset, lr, seed), nats.`, '');
  lines.push('## FP8 − BF16 per architecture and learning rate', '');
  lines.push('| preset | lr | FP8 − BF16 (nats, mean ± std) | BF16 diverged | FP8 diverged |', '|---|---|---|---|---|');
  for (const g of findings.gaps) lines.push(`| ${g.preset} | ${lrLabel(g.lr)} | ${g.gap} | ${g.bf16Diverged} | ${g.fp8Diverged} |`);
  lines.push('');
  lines.push(`FP8 runs that diverged while their BF16 twin did not: ${findings.fp8Only.length === 0 ? 'none' : findings.fp8Only.join(', ')}.`, '');
  lines.push(`BF16 runs that diverged while their FP8 twin did not: ${findings.bf16Only.length === 0 ? 'none' : findings.bf16Only.join(', ')}.`, '');
  lines.push('## Runs with spikes: telemetry at the last metrics interval before the first onset', '');
  if (findings.troubled.length === 0) lines.push('No run had a spike.', '');
  else {
    lines.push('| run | spikes | diverged at | onset | measured at | max logit (first → then) | unf P % | unf dS % | relerr P | ovf max % | kurt act |', '|---|---|---|---|---|---|---|---|---|---|---|');
    for (const t of findings.troubled) {
      const b = t.before;
      lines.push(`| ${t.run} | ${t.spikes} | ${t.divergedAt ?? '—'} | ${b?.onset ?? '—'} | ${b?.at ?? '—'} | ${b ? `${n(b.maxLogitFirst)} → ${n(b.maxLogit)}` : '—'} | ${n(b?.unfP ?? null)} | ${n(b?.unfDs ?? null)} | ${n(b?.relErrP ?? null)} | ${n(b?.ovfMax ?? null)} | ${n(b?.kurtActivation ?? null)} |`);
    }
    lines.push('');
  }
  lines.push('## Matrix (mean ± std over seeds)', '', '```');
  lines.push(formatSweepTable(summary, ['finalValLoss', 'gapVsBf16', 'maxLogitPeak', 'maxLogitFinal', 'unfP', 'unfDs', 'unfDo', 'unfQkv', 'unfGrad', 'relErrP', 'massLostP', 'ovfPeak', 'skipped', 'spikes', 'diverged', 'divergedAt']));
  lines.push('```', '');
  lines.push('Peak layer-averaged kurtosis per named tensor:', '', '```');
  lines.push(formatSweepTable(summary, summary.columns.filter((c) => c.key.startsWith('kurt.')).map((c) => c.key)));
  lines.push('```', '');
  lines.push('## Spike forecaster on held-out seeds', '');
  if (o.forecast) lines.push('```', formatForecastEval(o.forecast), '```', '');
  else lines.push(`Not evaluated: ${o.forecastError}`, '');
  return lines.join('\n');
}

/** Inline-SVG line chart of training loss (EMA-smoothed) of several runs. */
function lossSvg(series: { label: string; color: string; dash: boolean; xs: number[]; ys: (number | null)[] }[], title: string): string {
  const W = 360;
  const H = 200;
  const pad = 34;
  const all = series.flatMap((s) => s.ys).filter((v): v is number => v !== null && Number.isFinite(v));
  const xsAll = series.flatMap((s) => s.xs);
  if (all.length === 0 || xsAll.length === 0) return `<div class="card"><h3>${escapeHtml(title)}</h3><p class="muted">no data</p></div>`;
  const yMin = Math.min(...all);
  const yMax = Math.min(Math.max(...all), yMin + 6);
  const xMax = Math.max(...xsAll);
  const X = (x: number): number => pad + ((W - pad - 6) * x) / Math.max(1, xMax);
  const Y = (y: number): number => 6 + (H - pad - 6) * (1 - (Math.min(y, yMax) - yMin) / Math.max(1e-9, yMax - yMin));
  const paths = series.map((s) => {
    const pts = s.xs.map((x, i) => (s.ys[i] === null || !Number.isFinite(s.ys[i] as number) ? null : `${X(x).toFixed(1)},${Y(s.ys[i] as number).toFixed(1)}`)).filter((p): p is string => p !== null);
    return `<polyline fill="none" stroke="${s.color}" stroke-width="1.3" ${s.dash ? 'stroke-dasharray="4 3"' : ''} points="${pts.join(' ')}"><title>${escapeHtml(s.label)}</title></polyline>`;
  });
  const axis = `<line x1="${pad}" y1="${H - pad}" x2="${W - 6}" y2="${H - pad}" stroke="#999"/><line x1="${pad}" y1="6" x2="${pad}" y2="${H - pad}" stroke="#999"/>` +
    `<text x="${pad}" y="${H - pad + 14}" font-size="10">0</text><text x="${W - 40}" y="${H - pad + 14}" font-size="10">${xMax}</text>` +
    `<text x="2" y="${Y(yMax) + 4}" font-size="10">${yMax.toFixed(2)}</text><text x="2" y="${Y(yMin)}" font-size="10">${yMin.toFixed(2)}</text>`;
  return `<div class="card"><h3>${escapeHtml(title)}</h3><svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${axis}${paths.join('')}</svg></div>`;
}

export function studyHtml(o: { summary: SweepSummary; markdown: string; baseDir: string; load: (dir: string) => RunData }): string {
  const { summary } = o;
  const charts: string[] = [];
  const presets = [...new Set(summary.cells.map((c) => c.preset))];
  const lrs = [...new Set(summary.cells.map((c) => c.lr))];
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
  for (const p of presets) for (const lr of lrs) {
    const runs = summary.runs.filter((r) => r.preset === p && r.lr === lr && r.finished);
    const series = runs.map((r) => {
      const steps = o.load(r.dir).records.steps;
      const sp = detectSpikes(steps.map((s) => ({ step: s.step, loss: s.skipped ? null : s.loss })), summary.spike);
      const seeds = [...new Set(runs.map((x) => x.seed))];
      return { label: r.name, color: palette[seeds.indexOf(r.seed) % palette.length], dash: r.precision === 'bf16', xs: steps.map((s) => s.step), ys: sp.smoothed };
    });
    charts.push(lossSvg(series, `${p}, lr ${lrLabel(lr)} — smoothed train loss (dashed: bf16, solid: FP8; color = seed)`));
  }
  const links = summary.runs.map((r) => (r.finished ? `<a class="${r.metrics?.diverged ? 'bad' : ''}" href="${escapeHtml(relative(o.baseDir, join(r.dir, 'report.html')).split('\\').join('/'))}">${escapeHtml(r.name)}</a>` : `<span class="muted">${escapeHtml(r.name)}</span>`)).join(' · ');
  return `<!doctype html><html><head><meta charset="utf-8"><title>fog8 stability study</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:20px auto;max-width:1500px;color:#222;padding:0 16px}pre{background:#f6f7f9;padding:10px;overflow-x:auto;font-size:12px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:10px}.card{border:1px solid #dde1e6;border-radius:4px;padding:6px}.card h3{font-size:12px;margin:2px 0}.bad{color:#b3261e;font-weight:600}.muted{color:#888}a{margin-right:2px}</style></head>
<body><h1>fog8 stability study</h1>
<h2>Summary</h2><pre>${escapeHtml(o.markdown)}</pre>
<h2>Loss curves</h2><div class="grid">${charts.join('\n')}</div>
<h2>Runs</h2><p>${links}</p>
</body></html>
`;
}

/** Writes OUT/study.md and OUT/study.html from a finished (or partial) sweep of the protocol. */
export function writeStudy(o: { outDir: string; summary: SweepSummary; command: string; wallSeconds?: number | null; testSeeds?: number[]; machine?: string }): { markdownPath: string; htmlPath: string; markdown: string } {
  const cache = new Map<string, RunData>();
  const load = (dir: string): RunData => {
    let r = cache.get(dir);
    if (!r) cache.set(dir, (r = loadRun(dir)));
    return r;
  };
  const finished = o.summary.runs.filter((r) => r.finished);
  const findings = studyFindings(o.summary, load);
  let forecast: ForecastEvalResult | null = null;
  let forecastError: string | null = null;
  try {
    forecast = forecastEval(finished.map((r) => telemetryOf(load(r.dir))), { testSeeds: o.testSeeds, horizon: 50, window: 3, thresholds: [0.3, 0.5, 0.7, 0.9] });
    writeFileSync(join(o.outDir, 'forecaster.json'), `${JSON.stringify(forecast.model, null, 2)}\n`);
  } catch (e) {
    forecastError = (e as Error).message;
  }
  const markdown = studyMarkdown({ summary: o.summary, findings, forecast, forecastError, command: o.command, machine: o.machine ?? machineLine(finished.map((r) => load(r.dir))), wallSeconds: o.wallSeconds ?? null });
  const markdownPath = join(o.outDir, 'study.md');
  writeFileSync(markdownPath, `${markdown}\n`);
  const htmlPath = join(o.outDir, 'study.html');
  writeFileSync(htmlPath, studyHtml({ summary: o.summary, markdown, baseDir: o.outDir, load }));
  return { markdownPath, htmlPath, markdown };
}
