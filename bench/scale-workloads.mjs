// The scale benchmark's workloads (bench/scale.bench.mjs), shared by its Node children and its Chromium page
// (bench/scale-page/): one model, seeded data, a few steps; returns what was measured.

export const SEQ = 128;
export const BERT = { vocab: 30522, dim: 768, layers: 12, heads: 12, inter: 3072, maxPos: 512 };
export const GPT2 = { vocab: 50257, dim: 768, layers: 12, heads: 12, block: 1024 };
export const GEN_TOKENS = 8;
// BERT's masked-LM pretraining: 15% of the positions (BERT's rate) predicted over the tied 30,522-way head.
export const MLM_POSITIONS = Math.ceil(0.15 * SEQ);

const fmtMB = (b) => (b === undefined ? undefined : Math.round(b / 2 ** 20));

/**
 * A backend spec: a backend name, optionally with `:threads=N` (wasm: threads for core's products) and
 * `:fma` (wasm on Node 20: V8's relaxed SIMD, so core's kernels use fused multiply-add).
 */
export function parseSpec(spec) {
  const [backend, ...opts] = spec.split(':');
  const threads = opts.find((o) => o.startsWith('threads='));
  // webgpu:limits=default: a device with the spec's default limits (128 MiB binding), as mobile adapters give.
  const limits = opts.find((o) => o.startsWith('limits='))?.slice(7);
  return {
    backend,
    threads: threads ? Number(threads.slice(8)) : undefined,
    fma: opts.includes('fma'),
    limits,
    // webgpu:tfjs: TF.js's own kernels only (core's fused kernels unregistered), the dispatch baseline.
    tfjsKernels: opts.includes('tfjs'),
  };
}

/**
 * One workload on backend `spec`. cfg: { BATCH, BERT_SIZE, NO_DROPOUT, POSITIONS, GEN_BATCH (prompts decoded
 * together; default 1), steps (timed steps after the first; default 2, 1 on cpu and software adapters),
 * progress (called with a line after each step: slow runs can be watched), wasmPaths (pages) }.
 */
export async function runWorkload(cfg, spec, workload) {
  // Loaded here, not at the top: the Node parent reads only the constants, and a child sets V8 flags first.
  const tf = await import('@tensorflow/tfjs');
  const core = await import('@transformer-kit/core');
  const { matmulPeakGflops } = await import('./peak.mjs');
  const { BATCH, BERT_SIZE, NO_DROPOUT, POSITIONS } = cfg;
  const { backend, threads, limits, tfjsKernels } = parseSpec(spec);
  const info = await core.initBackend(backend, {
    threads,
    ...(limits ? { limits } : {}),
    ...(cfg.wasmPaths ? { wasmPaths: cfg.wasmPaths } : {}),
  });
  if (tfjsKernels) core.unregisterFusedKernels(info.tfBackend);
  // A software adapter's peak says nothing about a GPU and takes minutes to measure: no MFU there.
  const peakGflops = info.softwareAdapter ? undefined : await matmulPeakGflops();
  // Dispatches TF.js records on core's WebGPU device (undefined off WebGPU).
  const dispatches = () => core.webgpuDevice()?.dispatches;
  const rng = new core.Rng(1);
  const ids = (vocab, b, t) =>
    Array.from({ length: b }, () => Array.from({ length: t }, () => 1 + rng.int(vocab - 1)));
  const iters = cfg.steps ? cfg.steps : backend === 'cpu' || info.softwareAdapter ? 1 : 2;
  const result = {
    backend: spec,
    device: info.device,
    softwareAdapter: info.softwareAdapter || undefined,
    batch: BATCH,
    kernels: info.wasm ? `${info.wasm.kernels} ×${info.wasm.kernelThreads}` : undefined,
    workload,
    peakGflops,
  };
  core.resetWasmHeapPeak();
  const losses = [];
  const firstStep = async (step) => {
    const t0 = performance.now();
    losses.push((await step()).loss);
    cfg.progress?.(`${spec} ${workload} step 1: ${Math.round(performance.now() - t0)} ms, loss ${losses[0]}`);
  };
  const timeSteps = async (fn, n) => {
    const times = [];
    for (let i = 0; i < n; i++) {
      const d0 = dispatches();
      const t0 = performance.now();
      const r = await fn();
      times.push(performance.now() - t0);
      if (r?.loss !== undefined) losses.push(r.loss);
      if (d0 !== undefined) result.dispatchesPerStep = dispatches() - d0;
      cfg.progress?.(`${spec} ${workload} step ${i + 2}: ${Math.round(times[i])} ms, loss ${r?.loss}`);
    }
    return Math.min(...times);
  };

  if (workload === 'bert-mlm') {
    const { BertForMaskedLM, bertConfig } = await import('@transformer-kit/bert');
    const overrides = NO_DROPOUT ? { hiddenDropout: 0, attentionDropout: 0 } : {};
    const model = new BertForMaskedLM(bertConfig(BERT_SIZE, overrides));
    model.train();
    // The same masked batch on every backend: the first MLM_POSITIONS positions of a seeded shuffle per row.
    const original = ids(BERT.vocab, BATCH, SEQ);
    const positions = original.map(() => {
      const order = Array.from({ length: SEQ }, (_, i) => i);
      for (let i = SEQ - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      return order.slice(0, MLM_POSITIONS);
    });
    const MASK = 103;
    const batch = {
      inputIds: tf.tensor2d(
        original.map((row, b) => row.map((id, t) => (positions[b].includes(t) ? MASK : id))),
        undefined,
        'int32',
      ),
      positions: tf.tensor2d(positions, undefined, 'int32'),
      positionLabels: tf.tensor2d(
        positions.map((row, b) => row.map((t) => original[b][t])),
        undefined,
        'int32',
      ),
    };
    const trainer = new core.Trainer(model, { lr: 1e-4, weightDecay: 0.01, clipNorm: 1 });
    const step = () => trainer.step(() => model.loss(batch));
    await firstStep(step);
    result.tensorsAfterFirstStep = tf.memory().numTensors;
    result.ms = await timeSteps(step, iters);
    result.tensorsAfterLastStep = tf.memory().numTensors;
  } else if (workload.startsWith('bert')) {
    const { BertForSequenceClassification, bertConfig } = await import('@transformer-kit/bert');
    const overrides = NO_DROPOUT ? { hiddenDropout: 0, attentionDropout: 0 } : {};
    const model = new BertForSequenceClassification(bertConfig(BERT_SIZE, overrides), { numLabels: 2 });
    const inputIds = ids(BERT.vocab, BATCH, SEQ);
    const attentionMask = inputIds.map((r) => r.map(() => 1));
    if (workload === 'bert-forward') {
      model.eval();
      const run = async () => {
        const h = tf.tidy(() => model.bert.forward({ inputIds, attentionMask }).lastHiddenState);
        await h.data();
        h.dispose();
      };
      await run();
      result.ms = await timeSteps(run, iters + 1);
    } else {
      model.train();
      const labels = tf.tensor1d(
        inputIds.map((_, i) => i % 2),
        'int32',
      );
      const trainer = new core.Trainer(model, { lr: 2e-5, weightDecay: 0.01, clipNorm: 1 });
      const step = () => trainer.step(() => model.loss({ inputIds, attentionMask }, labels));
      await firstStep(step);
      result.tensorsAfterFirstStep = tf.memory().numTensors;
      result.ms = await timeSteps(step, iters);
      result.tensorsAfterLastStep = tf.memory().numTensors;
    }
  } else {
    const { GPT, gptConfig } = await import('@transformer-kit/gpt');
    const model = new GPT(gptConfig('gpt2'));
    if (workload === 'gpt2-train') {
      model.train();
      const x = tf.tensor2d(ids(GPT2.vocab, BATCH, SEQ), undefined, 'int32');
      const y = tf.tensor2d(ids(GPT2.vocab, BATCH, SEQ), undefined, 'int32');
      const trainer = new core.Trainer(model, { lr: 3e-4, weightDecay: 0.1, clipNorm: 1 });
      const step = () => trainer.step(() => model.loss(x, y));
      await firstStep(step);
      result.tensorsAfterFirstStep = tf.memory().numTensors;
      result.ms = await timeSteps(step, iters);
      result.tensorsAfterLastStep = tf.memory().numTensors;
    } else {
      model.eval();
      result.msPerToken = {};
      result.tokens = {};
      const before = tf.memory().numTensors;
      // GEN_BATCH prompts decoded together, greedily (argmax fed back), so each backend's tokens can be
      // compared with wasm's; ms/token is per decoding step of the whole batch.
      const rows = cfg.GEN_BATCH ?? 1;
      for (const pos of POSITIONS) {
        const prompts = ids(GPT2.vocab, rows, pos);
        const greedy = async (input, cache) => {
          const next = tf.tidy(() => model.forward(input, { cache, lastOnly: true }).argMax(-1));
          const out = await next.array();
          next.dispose();
          return out; // (rows, 1)
        };
        const perToken = async () => {
          const cache = model.newCache();
          let next = await greedy(prompts, cache);
          const tokens = [next];
          const t0 = performance.now();
          for (let i = 0; i < GEN_TOKENS; i++) {
            next = await greedy(next, cache);
            tokens.push(next);
          }
          cache.dispose();
          result.tokens[pos] = prompts.map((_, b) => tokens.map((t) => t[b][0]));
          return (performance.now() - t0) / GEN_TOKENS;
        };
        await perToken();
        result.msPerToken[pos] = Math.min(await perToken(), await perToken());
      }
      result.tensorsLeaked = tf.memory().numTensors - before;
    }
  }
  if (losses.length) result.losses = losses;
  // TF.js's WebGPU buffer pool keeps what it allocated: its size after the run is the peak.
  const gpuBytes = tf.memory().numBytesAllocatedInGPU;
  if (gpuBytes !== undefined) result.gpuMB = fmtMB(gpuBytes);
  const heap = core.wasmHeapStats();
  result.wasmHeapMB = fmtMB(heap?.heapBytes);
  result.peakMB = fmtMB(heap?.peakBytes);
  const usage = globalThis.process?.resourceUsage?.();
  if (usage) result.rssMB = Math.round(usage.maxRSS / 1024);
  return result;
}
