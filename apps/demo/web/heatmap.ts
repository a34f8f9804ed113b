/** Attention heatmaps: one row (what [CLS] attends to) as a strip, and the full T×T matrix, tokens as labels. */

// A perceptual sequential ramp (white → blue → deep violet), so small weights stay readable.
const STOPS: Array<[number, [number, number, number]]> = [
  [0, [247, 249, 255]],
  [0.25, [180, 205, 255]],
  [0.55, [79, 124, 255]],
  [0.8, [60, 40, 180]],
  [1, [30, 10, 90]],
];

export function color(v: number): string {
  const t = Math.min(1, Math.max(0, v));
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i]!;
    const [t0, c0] = STOPS[i - 1]!;
    if (t <= t1) {
      const f = (t - t0) / (t1 - t0);
      const c = c0.map((a, k) => Math.round(a + f * (c1[k]! - a)));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return 'rgb(30,10,90)';
}

function setup(canvas: HTMLCanvasElement, cssW: number, cssH: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, cssW, cssH);
  ctx.font = '12px ui-monospace, SFMono-Regular, Menlo, monospace';
  return ctx;
}

function labelWidth(ctx: CanvasRenderingContext2D, tokens: string[]): number {
  return Math.min(120, Math.max(30, ...tokens.map((t) => ctx.measureText(t).width)) + 10);
}

/** One attention row as coloured cells under the tokens, with the weight written in each cell. */
export function drawRow(
  canvas: HTMLCanvasElement,
  tokens: string[],
  row: ArrayLike<number>,
  maxWidth = 860,
): void {
  const probe = setup(canvas, 10, 10);
  const cell = Math.max(26, Math.min(64, Math.floor(maxWidth / Math.max(1, tokens.length))));
  const labelH = Math.min(90, Math.max(...tokens.map((t) => probe.measureText(t).width)) + 12);
  const ctx = setup(canvas, cell * tokens.length, labelH + cell + 2);
  // Scaled to the largest weight, but never below 0.2, so near-uniform attention reads as uniform (pale).
  const max = Math.max(0.2, ...Array.from(row));
  tokens.forEach((tok, i) => {
    ctx.save();
    ctx.translate(i * cell + cell / 2 + 4, labelH - 4);
    ctx.rotate(-Math.PI / 3);
    ctx.fillStyle = '#374151';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(tok, 0, 0);
    ctx.restore();
    const v = row[i] ?? 0;
    ctx.fillStyle = color(v / max);
    ctx.fillRect(i * cell + 1, labelH, cell - 2, cell);
    ctx.fillStyle = v / max > 0.5 ? '#fff' : '#111827';
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(v.toFixed(2), i * cell + cell / 2, labelH + cell / 2);
    ctx.font = '12px ui-monospace, SFMono-Regular, Menlo, monospace';
  });
}

/** The full matrix: rows are queries (attending), columns keys (attended to); `matrix[i*T + j]`. */
export function drawMatrix(
  canvas: HTMLCanvasElement,
  tokens: string[],
  matrix: ArrayLike<number>,
  maxSide = 560,
): void {
  const n = tokens.length;
  const probe = setup(canvas, 10, 10);
  const lw = labelWidth(probe, tokens);
  const cell = Math.max(8, Math.min(34, Math.floor(maxSide / Math.max(1, n))));
  const ctx = setup(canvas, lw + cell * n + 4, lw + cell * n + 4);
  // Colours are scaled to the largest weight (at least 0.2), so peaked attention stands out.
  let max = 0.2;
  for (let i = 0; i < n * n; i++) max = Math.max(max, matrix[i] ?? 0);
  ctx.textBaseline = 'middle';
  const fontPx = Math.min(12, Math.max(8, cell - 2));
  ctx.font = `${fontPx}px ui-monospace, SFMono-Regular, Menlo, monospace`;
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = '#374151';
    ctx.textAlign = 'right';
    ctx.fillText(tokens[i]!, lw - 6, lw + i * cell + cell / 2);
    ctx.save();
    ctx.translate(lw + i * cell + cell / 2, lw - 6);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    ctx.fillText(tokens[i]!, 0, 0);
    ctx.restore();
    for (let j = 0; j < n; j++) {
      ctx.fillStyle = color((matrix[i * n + j] ?? 0) / max);
      ctx.fillRect(lw + j * cell, lw + i * cell, cell - 1, cell - 1);
    }
  }
}
