/**
 * A classification with its attention heatmaps: the label bar and, for any layer and head, what [CLS]
 * attends to and the full token × token matrix. Section 2 draws into its elements (prefix ''), the
 * fine-tune section into its own ('ft-').
 */
import type { Attention, Classification } from '../src/sentiment.js';
import { drawMatrix, drawRow } from './heatmap.js';
import type { Page } from './page.js';

export interface ClassificationView {
  show(r: Classification): void;
}

export function classificationView(page: Page, prefix: '' | 'ft-'): ClassificationView {
  const { $ } = page;
  let attention: Attention | undefined;

  function fillLayerHead(a: Attention): void {
    const fill = (sel: HTMLSelectElement, n: number, name: string) => {
      const keep = Math.min(Number(sel.value) || 0, n - 1);
      sel.innerHTML = '';
      for (let i = 0; i < n; i++) sel.add(new Option(`${name} ${i}`, String(i)));
      sel.value = String(keep);
    };
    fill($<HTMLSelectElement>(`${prefix}h-layer`), a.layers.length, 'layer');
    fill($<HTMLSelectElement>(`${prefix}h-head`), a.numHeads, 'head');
  }

  function draw(): void {
    const a = attention;
    if (!a) return;
    const layer = Number($<HTMLSelectElement>(`${prefix}h-layer`).value);
    const head = Number($<HTMLSelectElement>(`${prefix}h-head`).value);
    const t = a.tokens.length;
    const m = a.layers[layer]!.subarray(head * t * t, (head + 1) * t * t);
    const width = $(`${prefix}h-heat`).clientWidth || 560;
    drawRow($<HTMLCanvasElement>(`${prefix}h-cls`), a.tokens, m.subarray(0, t), width - 8);
    drawMatrix($<HTMLCanvasElement>(`${prefix}h-full`), a.tokens, m, Math.min(560, width - 120));
  }

  $(`${prefix}h-layer`).onchange = draw;
  $(`${prefix}h-head`).onchange = draw;

  return {
    show(r) {
      let top = 0;
      for (let i = 1; i < r.probs.length; i++) if (r.probs[i]! > r.probs[top]!) top = i;
      const label = r.labels[top] ?? String(top);
      const positive = /pos/i.test(label) || label === '1';
      const result = $(`${prefix}c-result`);
      result.className = 'result';
      result.innerHTML = '';
      const tag = document.createElement('span');
      tag.className = `label ${positive ? 'pos' : 'neg'}`;
      tag.textContent = label;
      const p = document.createElement('span');
      const others =
        r.labels.length > 2
          ? ` (${r.labels.map((l, i) => `${l} ${(r.probs[i]! * 100).toFixed(0)}%`).join(', ')})`
          : '';
      p.textContent = `  ${(r.probs[top]! * 100).toFixed(1)}%${others} · ${r.tokens.length} tokens: ${r.tokens.join(' ')}`;
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.innerHTML = `<span style="width:${(r.probs[top]! * 100).toFixed(1)}%;background:${positive ? 'var(--good)' : 'var(--bad)'}"></span>`;
      result.append(tag, p, bar);
      attention = r.attention;
      for (const id of ['h-heat', 'h-controls']) $(`${prefix}${id}`).hidden = false;
      if (prefix === '') $('h-empty').hidden = true;
      fillLayerHead(r.attention);
      draw();
    },
  };
}
