/**
 * Page section 4: run a HuggingFace checkpoint folder picked from disk: a GPT-2 streams text, a BERT
 * classifier answers (and becomes selectable in section 2). Glue only: ../../src/hf.ts loads it.
 */

import { type LoadedCheckpoint, loadHfCheckpoint } from '../../src/hf.js';
import { UsageError } from '../../src/io.js';
import type { Page } from '../page.js';
import { streamInto } from '../stream.js';

export interface CheckpointSection {
  /** The loaded checkpoint (section 2 classifies with it when it is a classifier). */
  current(): LoadedCheckpoint | null;
  dispose(): void;
}

export function setupCheckpointSection(page: Page): CheckpointSection {
  const { $, guarded, state } = page;
  let loaded: LoadedCheckpoint | null = null;

  function resetUi(): void {
    $('hf-info').textContent = 'No checkpoint loaded.';
    $('hf-info').className = 'result muted';
    $('hf-form').hidden = true;
    $('hf-out').hidden = true;
    $<HTMLSelectElement>('c-model').querySelector('option[value=loaded]')?.remove();
  }

  function dispose(): void {
    loaded?.dispose();
    loaded = null;
    resetUi();
  }

  async function load(list: FileList): Promise<void> {
    dispose();
    const files = new Map<string, ArrayBuffer>();
    for (const f of Array.from(list)) files.set(f.name, await f.arrayBuffer());
    $('hf-info').textContent = `reading ${files.size} files…`;
    try {
      loaded = await loadHfCheckpoint(files);
    } catch (e) {
      $('hf-info').textContent = 'Could not load that folder (see the message at the top).';
      throw e;
    }
    state.checkpoint = loaded.description;
    $('hf-info').className = 'result';
    $('hf-info').textContent = loaded.description;
    $('hf-form').hidden = false;
    $<HTMLInputElement>('hf-text').value = loaded.placeholder;
    if (loaded.classifier) $<HTMLSelectElement>('c-model').add(new Option('loaded checkpoint', 'loaded'));
  }

  async function run(): Promise<void> {
    const ck = loaded;
    if (!ck) throw new UsageError('no checkpoint loaded: pick a folder first (section 4)');
    const text = $<HTMLInputElement>('hf-text').value;
    const out = $('hf-out');
    out.hidden = false;
    state.gpt.generated = '';
    await streamInto(
      out,
      ck.streams ? text : '',
      (onText) => ck.run(text, onText),
      (piece) => {
        state.gpt.generated += piece;
      },
    );
  }

  $<HTMLInputElement>('hf-files').onchange = guarded(async () => {
    const files = $<HTMLInputElement>('hf-files').files;
    if (files?.length) await load(files);
  });
  $('hf-form').onsubmit = (ev) => {
    ev.preventDefault();
    guarded(run)();
  };

  return { current: () => loaded, dispose };
}
