/**
 * Runs a checkpoint folder picked in the page: a GPT-2 (generate, streamed) or a BERT classifier
 * (classify, with attention heatmaps), including the folders this demo's CLI writes.
 */
import {
  CheckpointMismatchError,
  type FileData,
  parseConfig,
  readCheckpointFile,
} from '@transformer-kit/core';
import { loadGptCheckpoint, loadSentimentCheckpoint } from './checkpoints.js';
import { gptSizes } from './generate.js';
import { type Classification, sentimentSizes } from './sentiment.js';

export interface LoadedCheckpoint {
  /** One line for the page: what was loaded. */
  description: string;
  /** A sensible first input. */
  placeholder: string;
  /** True when `run` continues the input (generation), false when it answers about it. */
  streams: boolean;
  /** Present for classifiers: the page's classify card uses it (heatmaps included). */
  classifier?: { classify(text: string): Promise<Classification> };
  run(text: string, onText: (piece: string) => void): Promise<string>;
  dispose(): void;
}

export async function loadHfCheckpoint(files: Map<string, FileData>): Promise<LoadedCheckpoint> {
  const config = parseConfig(await readCheckpointFile(files, 'config.json'), 'config.json');
  const type = config.model_type;
  if (type === 'gpt2') {
    const exp = await loadGptCheckpoint(files, gptSizes());
    const c = exp.model.config;
    return {
      description: `GPT-2 architecture: ${c.numLayers} layers, hidden size ${c.hiddenSize}, ${c.numHeads} heads, vocabulary ${c.vocabSize}, ${(exp.model.numParameters() / 1e6).toFixed(2)}M parameters`,
      placeholder: 'Call me Ishmael. ',
      streams: true,
      run: (text, onText) => exp.generate(text, { maxNewTokens: 200, temperature: 0.8, onText }),
      dispose: () => exp.dispose(),
    };
  }
  if (type === 'bert') {
    const exp = await loadSentimentCheckpoint(files, sentimentSizes(), { train: [], test: [] });
    const c = exp.model.config;
    return {
      description: `BERT classifier: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads, vocabulary ${c.vocabSize}, ${(exp.model.numParameters() / 1e6).toFixed(2)}M parameters. It is also selectable in section 2.`,
      placeholder: 'attention is not too shabby',
      streams: false,
      classifier: exp,
      async run(text, onText) {
        const r = await exp.classify(text);
        const line = r.labels.map((l, i) => `${l}: ${(r.probs[i]! * 100).toFixed(1)}%`).join('   ');
        onText(line);
        return line;
      },
      dispose: () => exp.dispose(),
    };
  }
  throw new CheckpointMismatchError(
    `config.json has model_type '${String(type)}'; this page runs 'bert' and 'gpt2' checkpoints`,
  );
}
