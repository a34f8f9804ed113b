// GPT benchmark: training step time / tokens/s / MFU for the reference config (vocab 65, block 64, 4 layers,
// 4 heads, dim 128, batch 16) on each backend, vs the same model in PyTorch and vs TF.js peers; then
// generation ms/token at positions 16/128/512 with and without the KV cache.
// Every measurement runs in its own child process (one backend per process).   node gpt.bench.mjs
import { createRequire } from 'node:module';
import { printTable, reportChild, runChild, runTorch, timeIt, writeResults } from './lib.mjs';

const REF = { vocab: 65, block: 64, layers: 4, heads: 4, dim: 128, batch: 16 };
const POSITIONS = [16, 128, 512];
const GEN_TOKENS = 8;
const GEN_BLOCK = 1024;

/** Training FLOPs per step (nanoGPT's estimate: 6 per matmul weight per token, plus attention). */
function stepFlops({ vocab, block, layers, dim, batch }) {
  const matmulParams = layers * 12 * dim * dim + vocab * dim; // blocks + tied LM head
  const perToken = 6 * matmulParams + 12 * layers * block * dim;
  return perToken * batch * block;
}

// ---------------------------------------------------------------- child tasks
async function child(task, backend) {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend, Trainer } = await import('@transformer-kit/core');
  await initBackend(backend);
  const iters = backend === 'cpu' ? 1 : 5;
  const warmup = backend === 'cpu' ? 1 : 2;
  if (task === 'matmul-peak') {
    const { matmulPeakGflops } = await import('./peak.mjs');
    // The reference model's product shapes (batch 16 × 64 tokens, hidden 128, MLP 512).
    const shapes = [
      [1024, 128, 512],
      [1024, 512, 128],
      [512, 512, 512],
    ];
    return { gflops: await matmulPeakGflops(shapes, { runs: backend === 'cpu' ? 2 : 10 }) };
  }
  if (task === 'ours-train') {
    const { GPT } = await import('@transformer-kit/gpt');
    const model = new GPT(
      {
        vocabSize: REF.vocab,
        maxPositions: REF.block,
        numLayers: REF.layers,
        numHeads: REF.heads,
        hiddenSize: REF.dim,
      },
      { seed: 0 },
    );
    const trainer = new Trainer(model, { lr: 3e-4, weightDecay: 0.1, clipNorm: 1 });
    const x = tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 1);
    const y = tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 2);
    const stepMs = await timeIt(() => trainer.step(() => model.loss(x, y)), { warmup, iters });
    return { stepMs, params: model.numParameters() };
  }
  if (task === 'ours-gen') {
    const { GPT } = await import('@transformer-kit/gpt');
    const model = new GPT(
      {
        vocabSize: REF.vocab,
        maxPositions: GEN_BLOCK,
        numLayers: REF.layers,
        numHeads: REF.heads,
        hiddenSize: REF.dim,
      },
      { seed: 0 },
    );
    const out = {};
    for (const useCache of [true, false]) await model.generate([1, 2, 3], { maxNewTokens: 20, useCache }); // warm-up
    for (const pos of POSITIONS) {
      const prompt = Array.from({ length: pos }, (_, i) => (i * 7) % REF.vocab);
      out[pos] = {};
      for (const useCache of [true, false]) {
        // Median gap between consecutive streamed tokens after the first (which includes the prompt pass).
        let best = Infinity;
        for (let run = 0; run < 3; run++) {
          const gaps = [];
          let last;
          for await (const _ of model.stream(prompt, { maxNewTokens: GEN_TOKENS + 1, useCache })) {
            const now = performance.now();
            if (last !== undefined) gaps.push(now - last);
            last = now;
          }
          gaps.sort((a, b) => a - b);
          best = Math.min(best, gaps[Math.floor(gaps.length / 2)]);
        }
        out[pos][useCache ? 'cached' : 'uncached'] = best;
      }
    }
    return out;
  }
  if (task === 'gpt-tfjs-train') {
    // zemlyansky/gpt-tfjs: its own training step (src/train.js) on a one-hot target, Adam + global-norm clip.
    const require = createRequire(import.meta.url);
    const gptTfjs = require('gpt-tfjs');
    const model = gptTfjs.model.GPT({
      vocabSize: REF.vocab,
      blockSize: REF.block,
      nLayer: REF.layers,
      nHead: REF.heads,
      nEmbd: REF.dim,
      dropout: 0,
      bias: true,
    });
    const opt = tf.train.adam(3e-4);
    const x = tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 1);
    const y = tf.oneHot(tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 2), REF.vocab);
    const step = async () => {
      let loss;
      tf.tidy(() => {
        const { grads } = opt.computeGradients(() => {
          loss = tf.keep(tf.losses.softmaxCrossEntropy(y, model.apply(x)));
          return loss;
        });
        opt.applyGradients(gptTfjs.optimizers.clipByGlobalNormObj(grads, 1));
      });
      await loss.data();
      loss.dispose();
    };
    const stepMs = await timeIt(step, { warmup, iters });
    return { stepMs, params: model.countParams() };
  }
  if (task === 'nanogpt-train') {
    // @genai-fi/nanogpt: its dist is a Vite *browser* bundle with its own inlined copy of tfjs-core. That copy
    // shares our global engine, flags and kernel registry (so it runs on the backend chosen above), but Vite
    // stubbed Node's `util` module with {}, so at import its Node platform does `new {}.TextEncoder()` ->
    // "this.util.TextEncoder is not a constructor". Import it with IS_BROWSER set, so it installs its browser
    // platform (global TextEncoder/fetch/performance) instead, then put our Node platform back.
    const { platformName, platform } = tf.env();
    tf.env().set('IS_BROWSER', true);
    const nanoUrl = import.meta.resolve('@genai-fi/nanogpt');
    const { TeachableLLM } = await import(nanoUrl);
    tf.env().set('IS_BROWSER', false);
    tf.env().setPlatform(platformName, platform);
    // Its trainer (PreTrainer/BasicTrainer) is not exported ("exports" has only "."): load it by file URL
    // from the same dist, so it is the same module instance that TeachableLLM's training jobs use.
    const { default: createTrainer } = await import(new URL('./training/factory.js', nanoUrl));
    // v1 with learned positions is its GPT-2-like model (GELU MLP, tied embedding; RMSNorm, no biases).
    const llm = TeachableLLM.create('char', {
      modelType: 'GenAI_NanoGPT_v1',
      useRope: false,
      vocabSize: REF.vocab,
      blockSize: REF.block,
      nLayer: REF.layers,
      nHead: REF.heads,
      nEmbed: REF.dim,
      mlpFactor: 4,
    });
    // create() starts an async warm-up pass (batch 1); let it finish (or fail) before timing anything.
    await new Promise((resolve, reject) => {
      llm.on('loaded', resolve);
      llm.on('error', reject);
    });
    const options = {
      method: { type: 'pretraining' },
      batchSize: REF.batch,
      learningRate: 3e-4,
      warmupSteps: 0,
      weightDecay: 0.1,
      dropout: 0, // no clipNorm: its global-norm clip needs the 'Norm2'/'ClipScale' kernels, webgpu-only
    };
    const trainer = createTrainer(llm.model, llm.tokeniser, options);
    trainer.configure(options);
    const xs = tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 1);
    const ys = tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 2);
    // Timed: one BasicTrainer.trainStep (what trainOnDataset runs per batch): forward, sparse CE loss, grads,
    // its AdamW update (no clip), then reading the loss back.
    const state = {};
    const step = async () => {
      const loss = trainer.trainStep(state, { xs, ys });
      await loss.data();
      loss.dispose();
    };
    const stepMs = await timeIt(step, { warmup, iters });
    // trainStep differentiates every trainable variable (its weight store + the tf.layers position embedding).
    const trainable = Object.values(tf.engine().registeredVariables).filter((v) => v.trainable);
    const params = trainable.reduce((n, v) => n + v.size, 0);
    return { stepMs, params };
  }
  throw new Error(`unknown task ${task}`);
}

const runTorchRef = (threads) =>
  runTorch('gpt_torch.py', {
    ...REF,
    threads,
    gen_block: GEN_BLOCK,
    positions: POSITIONS,
    gen_tokens: GEN_TOKENS,
  });

// ---------------------------------------------------------------- main
async function main() {
  const flops = stepFlops(REF);
  const tokens = REF.batch * REF.block;
  const backends = ['wasm', 'cpu', 'webgpu'];
  const peak = {};
  const ours = {};
  for (const b of backends) {
    peak[b] = runChild(import.meta.url, ['matmul-peak', b]);
    if (peak[b].error) {
      ours[b] = { error: peak[b].error };
      continue;
    }
    ours[b] = runChild(import.meta.url, ['ours-train', b]);
  }
  const torch = { 1: runTorchRef(1), 2: runTorchRef(2) };
  const peers = {
    'gpt-tfjs/wasm': runChild(import.meta.url, ['gpt-tfjs-train', 'wasm']),
    'gpt-tfjs/cpu': runChild(import.meta.url, ['gpt-tfjs-train', 'cpu']),
    '@genai-fi/nanogpt/wasm': runChild(import.meta.url, ['nanogpt-train', 'wasm']), // fails: no wasm kernels for its custom ops
    '@genai-fi/nanogpt/cpu': runChild(import.meta.url, ['nanogpt-train', 'cpu']),
  };
  const torchTps = torch[1].step_ms ? tokens / (torch[1].step_ms / 1e3) : undefined;
  const oursWasmTps = ours.wasm?.stepMs ? tokens / (ours.wasm.stepMs / 1e3) : undefined;

  const rows = [];
  const row = (impl, backend, threads, r, peakGflops) => {
    if (!r || r.error) {
      rows.push({
        impl,
        backend,
        threads,
        'step ms': '-',
        'tokens/s': '-',
        'vs torch(1t)': '-',
        'ours wasm vs this': '-',
        MFU: '-',
        note: r?.error ?? 'n/a',
      });
      return;
    }
    const ms = r.stepMs ?? r.step_ms;
    const tps = tokens / (ms / 1e3);
    rows.push({
      impl,
      backend,
      threads,
      'step ms': ms,
      'tokens/s': Math.round(tps),
      'vs torch(1t)': torchTps ? tps / torchTps : '-',
      'ours wasm vs this': oursWasmTps ? oursWasmTps / tps : '-',
      MFU: peakGflops
        ? `${((100 * flops) / (ms / 1e3) / (peakGflops * 1e9)).toFixed(1)}% of ${peakGflops.toFixed(1)} GF/s`
        : '-',
      note: r.params ? `${r.params} params` : '',
    });
  };
  for (const b of backends) row('transformer-kit', b, 1, ours[b], peak[b]?.gflops);
  row('PyTorch 1.13', 'cpu', 1, torch[1]);
  row('PyTorch 1.13', 'cpu', 2, torch[2]);
  for (const [name, r] of Object.entries(peers)) {
    const [impl, backend] = name.split(/\/(?=[^/]+$)/);
    row(impl, backend, 1, r, peak[backend]?.gflops);
  }
  printTable(
    `Training step, reference config ${JSON.stringify(REF)}, ${(flops / 1e9).toFixed(2)} GFLOP/step`,
    rows,
  );

  const gen = { wasm: runChild(import.meta.url, ['ours-gen', 'wasm']) };
  const genRows = [];
  for (const pos of POSITIONS) {
    const o = gen.wasm?.[pos];
    const t = torch[1].gen?.[pos];
    genRows.push({
      position: pos,
      'ours wasm cached ms/tok': o?.cached ?? gen.wasm.error ?? '-',
      'ours wasm uncached ms/tok': o?.uncached ?? '-',
      'cached / cached@16': o && gen.wasm[16] ? o.cached / gen.wasm[16].cached : '-',
      'torch(1t) cached ms/tok': t?.cached ?? '-',
      'torch(1t) uncached ms/tok': t?.uncached ?? '-',
    });
  }
  printTable(
    `Generation (reference model with block ${GEN_BLOCK}, batch 1, greedy), ms per new token`,
    genRows,
  );
  writeResults('gpt', {
    config: REF,
    flopsPerStep: flops,
    peak,
    ours,
    torch,
    peers,
    generation: { ours: gen, torch: { 1: torch[1].gen, 2: torch[2].gen } },
    rows,
    genRows,
  });
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4]).then(
    (r) => {
      reportChild(r);
      process.exit(0);
    },
    (e) => {
      console.error(`Error: ${e?.message ?? e}`);
      process.exit(1);
    },
  );
} else {
  await main();
}
