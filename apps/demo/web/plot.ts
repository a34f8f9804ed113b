import { InvalidArgumentError } from '@transformer-kit/core';

/** A loss curve on a canvas: raw losses faint, an exponential moving average on top, redrawn as points arrive. */
export class LossPlot {
  readonly points: Array<[number, number]> = [];
  #ctx: CanvasRenderingContext2D;
  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly color = '#4f7cff',
  ) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new InvalidArgumentError('the loss plot needs a canvas with a 2d context');
    this.#ctx = ctx;
    fitToCss(canvas);
    this.draw();
  }

  push(step: number, loss: number): void {
    this.points.push([step, loss]);
    this.draw();
  }

  clear(): void {
    this.points.length = 0;
    this.draw();
  }

  draw(): void {
    const ctx = this.#ctx;
    const dpr = this.canvas.width / Math.max(1, this.canvas.clientWidth || this.canvas.width);
    const w = this.canvas.width / dpr;
    const h = this.canvas.height / dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    const pad = { l: 44, r: 12, t: 10, b: 26 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    const pts = this.points;
    const maxStep = Math.max(10, ...pts.map((p) => p[0]));
    const losses = pts.map((p) => p[1]).filter(Number.isFinite);
    let lo = losses.length ? Math.min(...losses) : 0;
    let hi = losses.length ? Math.max(...losses) : 1;
    if (hi - lo < 1e-6) [lo, hi] = [lo - 0.5, hi + 0.5];
    lo = Math.max(0, lo - 0.05 * (hi - lo));
    const x = (s: number) => pad.l + (s / maxStep) * pw;
    const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * ph;

    // Grid and labels.
    ctx.strokeStyle = '#e6e8ef';
    ctx.fillStyle = '#6b7280';
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yy);
      ctx.lineTo(w - pad.r, yy);
      ctx.stroke();
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(v.toFixed(hi - lo < 0.1 ? 3 : 2), pad.l - 6, yy);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let i = 0; i <= 4; i++) {
      const s = Math.round((maxStep * i) / 4);
      ctx.fillText(String(s), x(s), h - pad.b + 6);
    }
    if (pts.length === 0) {
      ctx.fillText('loss appears here while training', pad.l + pw / 2, pad.t + ph / 2);
      return;
    }

    const line = (series: Array<[number, number]>, color: string, width: number) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.beginPath();
      for (const [i, [s, v]] of series.entries()) {
        if (i === 0) ctx.moveTo(x(s), y(v));
        else ctx.lineTo(x(s), y(v));
      }
      ctx.stroke();
    };
    line(pts, `${this.color}55`, 1);
    // Bias-corrected exponential moving average (as Adam's moments), so it tracks from the first step.
    let ema = 0;
    line(
      pts.map(([s, v], i) => {
        ema = 0.9 * ema + 0.1 * v;
        return [s, ema / (1 - 0.9 ** (i + 1))];
      }),
      this.color,
      2,
    );
  }
}

/** Sizes the canvas's backing store to its CSS box times devicePixelRatio, so lines stay crisp. */
export function fitToCss(canvas: HTMLCanvasElement): void {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || canvas.width;
  const cssH = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
}

/** True when some pixel differs from the first one: the test's "something was drawn" check. */
export function canvasHasInk(canvas: HTMLCanvasElement): boolean {
  const ctx = canvas.getContext('2d');
  if (!ctx || canvas.width === 0 || canvas.height === 0) return false;
  const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 4; i < d.length; i += 4) {
    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) return true;
  }
  return false;
}
