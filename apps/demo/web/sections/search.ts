/**
 * Page section 7: semantic search with a sentence-transformers folder or Hub id (bert's SentenceEncoder:
 * the folder's pooling and normalisation, as sentence-transformers computes them). A handful of texts are
 * embedded once; a query is embedded and the texts are ranked by cosine similarity, with their scores.
 */
import { loadSentenceEncoder, type SentenceEncoder, semanticSearch } from '@transformer-kit/bert';
import type { CheckpointSource, FileData } from '@transformer-kit/core';
import { UsageError } from '../../src/io.js';
import { hubSource } from '../hub.js';
import type { Page } from '../page.js';

export interface SearchSection {
  /** Frees the encoder (a backend switch). */
  dispose(): void;
}

export function setupSearchSection(page: Page): SearchSection {
  const { $, guarded, state } = page;
  const st = state.search;
  let encoder: SentenceEncoder | null = null;
  /** The texts' vectors, for the texts they were computed from. */
  let corpus: { texts: string[]; vectors: Float32Array[] } | null = null;

  async function load(source: CheckpointSource): Promise<void> {
    if (st.running) throw new UsageError('wait for the search to finish before loading another model');
    $('se-model-info').textContent = 'loading…';
    let next: SentenceEncoder;
    try {
      next = await loadSentenceEncoder(source);
    } catch (e) {
      $('se-model-info').textContent = encoder
        ? 'That folder cannot be loaded (see the message at the top); still using the previous model.'
        : 'That folder cannot be loaded (see the message at the top).';
      throw e;
    }
    dispose();
    encoder = next;
    const c = next.model.config;
    const o = next.options;
    st.model = `${c.numLayers} layers, hidden ${c.hiddenSize}, vocabulary ${c.vocabSize}; ${o.pooling} pooling${o.normalize ? ', L2-normalised' : ''}, up to ${o.maxSeqLength} tokens`;
    $('se-model-info').className = 'result';
    $('se-model-info').textContent = st.model;
  }

  function texts(): string[] {
    const list = $<HTMLTextAreaElement>('se-texts')
      .value.split('\n')
      .map((t) => t.trim())
      .filter(Boolean);
    if (list.length === 0) throw new UsageError('write a few texts to search, one per line');
    return list;
  }

  async function search(): Promise<void> {
    if (!encoder) throw new UsageError('load a sentence-transformers model first (a folder or a Hub id)');
    const query = $<HTMLInputElement>('se-query').value.trim();
    if (!query) throw new UsageError('type a query');
    const enc = encoder;
    st.running = true;
    try {
      const list = texts();
      // The texts are embedded once, again only when they change.
      if (!corpus || corpus.texts.join('\n') !== list.join('\n'))
        corpus = { texts: list, vectors: await enc.embed(list) };
      const [q] = await enc.embed([query]);
      const ranked = semanticSearch(q!, corpus.vectors, corpus.vectors.length);
      st.texts = corpus.texts;
      st.query = query;
      st.results = ranked.map((r) => ({ text: corpus!.texts[r.index]!, score: r.score }));
      const ol = $('se-results');
      ol.innerHTML = '';
      for (const r of st.results) {
        const li = document.createElement('li');
        const score = document.createElement('span');
        score.className = 'score';
        score.textContent = r.score.toFixed(3);
        li.append(score, ` ${r.text}`);
        ol.append(li);
      }
    } finally {
      st.running = false;
    }
  }

  function dispose(): void {
    encoder?.model.dispose();
    encoder = null;
    corpus = null;
  }

  $<HTMLInputElement>('se-folder').onchange = guarded(async () => {
    const list = $<HTMLInputElement>('se-folder').files;
    if (!list?.length) return;
    // Paths inside the picked folder: 1_Pooling/config.json is not the root's config.json.
    const files = new Map<string, FileData>();
    for (const f of Array.from(list)) {
      const parts = (f.webkitRelativePath || f.name).split('/');
      files.set(parts.length > 1 ? parts.slice(1).join('/') : f.name, f);
    }
    st.files = [];
    await load(files);
  });
  $('se-hub-form').onsubmit = (ev) => {
    ev.preventDefault();
    guarded(async () => {
      st.files = [];
      await load(await hubSource(page, 'se', $<HTMLInputElement>('se-hub').value, st.files));
    })();
  };
  $('se-form').onsubmit = (ev) => {
    ev.preventDefault();
    guarded(search)();
  };

  return { dispose };
}
