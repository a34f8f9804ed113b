/**
 * Page section 2: classify a typed sentence with the sentiment model of section 1 or a BERT classifier
 * loaded in section 4, with the attention heatmaps of every layer and head.
 */
import { UsageError } from '../../src/io.js';
import type { Classification } from '../../src/sentiment.js';
import { classificationView } from '../classification.js';
import type { Page } from '../page.js';

type Classifier = { classify(text: string): Promise<Classification> };

export function setupClassifySection(
  page: Page,
  models: { trained: () => Classifier | null; loaded: () => Classifier | null },
): void {
  const { $, state } = page;
  const view = classificationView(page, '');

  async function classify(): Promise<void> {
    const text = $<HTMLInputElement>('c-text').value;
    const which = $<HTMLSelectElement>('c-model').value;
    const model = which === 'loaded' ? models.loaded() : models.trained();
    if (!model)
      throw new UsageError(
        which === 'loaded'
          ? 'load a BERT checkpoint first (section 4)'
          : 'train the sentiment model first (press Train in section 1)',
      );
    const r = await model.classify(text);
    state.classified = r;
    view.show(r);
  }

  $('c-form').onsubmit = (ev) => {
    ev.preventDefault();
    page.guarded(classify)();
  };
}
