/**
 * Browser code: draws one layer × step heatmap (HeatmapSpec) on a canvas, with axes and a color
 * bar legend. It is shipped to the page as this function's source text (html.ts), so it must stay
 * self-contained: no references to anything outside its own body.
 */
import type { HeatmapSpec } from './model.js';

/** Draws `spec` into a new canvas appended to `container`; returns the number of layers drawn. */
export function drawHeatmap(container: HTMLElement, spec: HeatmapSpec, width: number): number {
  // Viridis control points (perceptually uniform, readable in grayscale).
  const stops: [number, number, number][] = [
    [68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
  ];
  function colorAt(t: number): string {
    const u = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(u));
    const f = u - i;
    const a = stops[i];
    const b = stops[i + 1];
    return `rgb(${Math.round(a[0] + (b[0] - a[0]) * f)},${Math.round(a[1] + (b[1] - a[1]) * f)},${Math.round(a[2] + (b[2] - a[2]) * f)})`;
  }
  function fmt(v: number): string {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-2)) return v.toExponential(1);
    return a >= 100 ? v.toFixed(0) : v.toPrecision(3);
  }
  const log = spec.colorLog && spec.colorMin > 0;
  const lo = log ? Math.log(spec.colorMin) : spec.colorMin;
  const hi = log ? Math.log(spec.colorMax) : spec.colorMax;
  function position(v: number): number {
    const x = log ? Math.log(v) : v;
    return hi > lo ? (x - lo) / (hi - lo) : 0.5;
  }

  const layers = spec.layerCount;
  const cols = spec.steps.length;
  const margin = { left: 58, right: 104, top: 8, bottom: 44 };
  const cellH = Math.max(6, Math.min(26, Math.floor(300 / Math.max(1, layers))));
  const plotW = Math.max(60, width - margin.left - margin.right);
  const plotH = cellH * Math.max(1, layers);
  const barH = Math.max(plotH, 60);
  const height = margin.top + barH + margin.bottom;
  const dpr = window.devicePixelRatio || 1;
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', spec.title);
  container.appendChild(canvas);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error(`heatmap ${spec.id}: no 2D canvas context`);
  ctx.scale(dpr, dpr);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);

  // Cells: layer 0 at the bottom, steps left to right in recorded order.
  const cellW = plotW / Math.max(1, cols);
  let drawnLayers = 0;
  for (let l = 0; l < layers; l++) {
    const row = spec.values[l] ?? [];
    let any = false;
    for (let j = 0; j < cols; j++) {
      const v = row[j];
      const y = margin.top + (layers - 1 - l) * cellH;
      const x = margin.left + j * cellW;
      if (v === null || v === undefined || !Number.isFinite(v)) {
        ctx.fillStyle = '#e6e6e6';
      } else {
        ctx.fillStyle = colorAt(position(v));
        any = true;
      }
      ctx.fillRect(x, y, Math.ceil(cellW + 0.5), cellH);
    }
    if (any) drawnLayers += 1;
  }
  ctx.strokeStyle = '#888';
  ctx.strokeRect(margin.left, margin.top, plotW, plotH);

  // Y axis: layer indices (at most ~12 labels).
  ctx.fillStyle = '#222';
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const layerEvery = Math.max(1, Math.ceil(layers / 12));
  for (let l = 0; l < layers; l += layerEvery) ctx.fillText(String(l), margin.left - 5, margin.top + (layers - 1 - l + 0.5) * cellH);
  ctx.save();
  ctx.translate(13, margin.top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('layer', 0, 0);
  ctx.restore();

  // X axis: step numbers at up to ~8 evenly spaced columns.
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const stepEvery = Math.max(1, Math.ceil(cols / 8));
  for (let j = 0; j < cols; j += stepEvery) ctx.fillText(String(spec.steps[j]), margin.left + (j + 0.5) * cellW, margin.top + plotH + 4);
  ctx.fillText('optimizer step', margin.left + plotW / 2, margin.top + plotH + 24);

  // Color bar with min, middle and max labels (middle is the geometric mean on a log scale).
  const barX = margin.left + plotW + 14;
  const barW = 14;
  for (let k = 0; k < barH; k++) {
    ctx.fillStyle = colorAt(1 - k / (barH - 1));
    ctx.fillRect(barX, margin.top + k, barW, 1);
  }
  ctx.strokeStyle = '#888';
  ctx.strokeRect(barX, margin.top, barW, barH);
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  const mid = log ? Math.exp((lo + hi) / 2) : (lo + hi) / 2;
  ctx.fillText(fmt(spec.colorMax), barX + barW + 4, margin.top + 5);
  ctx.fillText(fmt(mid), barX + barW + 4, margin.top + barH / 2);
  ctx.fillText(fmt(spec.colorMin), barX + barW + 4, margin.top + barH - 5);
  ctx.textBaseline = 'top';
  ctx.fillText(`${spec.metric}${log ? ' (log)' : ''}`, barX - 6, margin.top + barH + 8);

  canvas.dataset.renderedLayers = String(drawnLayers);
  canvas.dataset.renderedSteps = String(cols);
  return drawnLayers;
}
