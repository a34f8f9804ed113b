import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  BertForSequenceClassification,
  loadBertForSequenceClassification,
  savePretrained,
} from '@transformer-kit/bert';
import {
  CheckpointError,
  CheckpointMismatchError,
  InvalidArgumentError,
  initBackend,
  linear,
  Trainer,
  valueAndGrads,
} from '@transformer-kit/core';
import { GPT } from '@transformer-kit/gpt';
import { ViTForImageClassification } from '@transformer-kit/vit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addLora,
  loadLoraAdapter,
  loraState,
  mergeLora,
  optionsFromAdapterConfig,
  saveLoraAdapter,
  trainableParameterCount,
  unloadLora,
  unmergeLora,
} from '../src/index.js';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
const snapshot = (vs: tf.Variable[]) => vs.map((v) => v.clone());
const BERT_FIXTURE = join(import.meta.dirname, '../../bert/test/fixtures/bert-cls');
const LORA_FIXTURE = join(import.meta.dirname, 'fixtures/bert-lora');

const bertInputs = () => ({
  inputIds: tf.tensor2d(
    [
      [2, 10, 11, 12, 3, 0],
      [2, 20, 21, 3, 30, 3],
    ],
    undefined,
    'int32',
  ),
  attentionMask: tf.tensor2d(
    [
      [1, 1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1, 1],
    ],
    undefined,
    'int32',
  ),
});
const newBert = (seed = 0) =>
  new BertForSequenceClassification(
    { hiddenSize: 32, numHeads: 4, intermediateSize: 64, vocabSize: 64, maxPositions: 16 },
    { numLabels: 3, seed },
  );

/** Sets every B to random values so adapters change the output (PEFT initialises B to zeros). */
function randomizeB(model: Parameters<typeof loraState>[0], seed = 1): void {
  for (const { adapter } of loraState(model)!.adapted)
    adapter.B.assign(tf.randomNormal(adapter.B.shape, 0, 0.2, 'float32', seed++));
}

describe.each(['cpu', 'wasm'] as const)('LoRA on %s', (backend) => {
  let tmp: string;
  beforeAll(async () => {
    await initBackend(backend);
    tmp = await mkdtemp(join(tmpdir(), 'lora-'));
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it("PEFT's defaults on BERT: query+value, r 8, alpha 8, A kaiming-uniform, B zeros, output unchanged", () => {
    const model = newBert().eval();
    const x = bertInputs();
    const base = tf.tidy(() => model.forward(x));
    const state = addLora(model);
    expect(state.config).toEqual({
      r: 8,
      alpha: 8,
      dropout: 0,
      targetModules: ['query', 'value'],
      modulesToSave: [],
      useRslora: false,
    });
    expect(state.adapted.map((a) => a.hf)).toEqual([
      'bert.encoder.layer.0.attention.self.query',
      'bert.encoder.layer.0.attention.self.value',
      'bert.encoder.layer.1.attention.self.query',
      'bert.encoder.layer.1.attention.self.value',
    ]);
    for (const { adapter } of state.adapted) {
      expect(adapter.A.shape).toEqual([32, 8]);
      expect(adapter.B.shape).toEqual([8, 32]);
      expect(adapter.scaling).toBe(1);
      const a = Array.from(adapter.A.dataSync());
      // kaiming_uniform_(a=sqrt(5)) on (r, in): U(-1/sqrt(in), 1/sqrt(in)); std = bound/sqrt(3).
      const bound = 1 / Math.sqrt(32);
      expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
      const std = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
      expect(std).toBeGreaterThan(0.8 * (bound / Math.sqrt(3)));
      expect(std).toBeLessThan(1.2 * (bound / Math.sqrt(3)));
      expect(adapter.B.dataSync().every((v) => v === 0)).toBe(true);
    }
    expect(model.namedParameters().map(([n]) => n)).toContain('bert.layers.0.attn.query.lora.A');
    tf.tidy(() => {
      expect(maxDiff(model.forward(x), base)).toBe(0);
    });
    tf.dispose([base, x.inputIds, x.attentionMask]);
    model.dispose();
  });

  it('only adapters and modulesToSave train: frozen weights get no gradient, no optimizer state, and stay put; the loss goes down', async () => {
    // Eval mode: no dropout noise, so 20 steps on two examples must cut the loss.
    const model = newBert().eval();
    addLora(model, { r: 4, alpha: 8, modulesToSave: ['classifier'] });
    const trainable = model
      .namedParameters()
      .filter(([, v]) => v.trainable)
      .map(([n]) => n);
    expect(trainable).toEqual([
      'bert.layers.0.attn.query.lora.A',
      'bert.layers.0.attn.query.lora.B',
      'bert.layers.0.attn.value.lora.A',
      'bert.layers.0.attn.value.lora.B',
      'bert.layers.1.attn.query.lora.A',
      'bert.layers.1.attn.query.lora.B',
      'bert.layers.1.attn.value.lora.A',
      'bert.layers.1.attn.value.lora.B',
      'classifier.mlp.out.weight',
      'classifier.mlp.out.bias',
    ]);
    const { trainable: n, total } = trainableParameterCount(model);
    expect(n).toBe(4 * (32 * 4 + 4 * 32) + 32 * 3 + 3);
    expect(total).toBe(model.numParameters());
    const trainer = new Trainer(model, { lr: 5e-2 });
    expect(trainer.optimizer.variables.length).toBe(trainable.length);
    const frozen = model.parameters().filter((v) => !v.trainable);
    const before = snapshot(frozen);
    const x = bertInputs();
    const labels = tf.tensor1d([2, 0], 'int32');
    const losses: number[] = [];
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) losses.push((await trainer.step(() => model.loss(x, labels))).loss);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    for (const [i, v] of frozen.entries()) expect(maxDiff(v, before[i]!), v.name).toBe(0);
    tf.dispose([before, x.inputIds, x.attentionMask, labels]);
    trainer.dispose();
    model.dispose();
  });

  it("a frozen Linear's backward makes only dx, equal to the trainable one's", () => {
    const w = tf.variable(tf.randomNormal([6, 5], 0, 1, 'float32', 3));
    const b = tf.variable(tf.randomNormal([5], 0, 1, 'float32', 4));
    const x = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 5);
    const loss = () => linear(x, w, b).square().sum() as tf.Scalar;
    const full = valueAndGrads(loss, [x, w]);
    w.trainable = false;
    b.trainable = false;
    const frozen = valueAndGrads(loss, [x, w]);
    expect(maxDiff(frozen.grads[0]!, full.grads[0]!)).toBeLessThan(1e-5);
    expect(frozen.grads[1]).toBeNull();
    expect(maxDiff(frozen.value, full.value)).toBe(0);
    tf.dispose([w, b, x, full.value, frozen.value, ...full.grads, ...frozen.grads].filter((t) => t !== null));
  });

  it("an adapted Linear's backward keeps its input and r-wide tensors only (no full-width activation)", () => {
    const model = newBert();
    addLora(model, { r: 2, targetModules: ['query'] });
    const state = loraState(model)!;
    const [query] = state.adapted[0]!.adapter.members;
    const { A, B } = state.adapted[0]!.adapter;
    B.assign(tf.randomNormal(B.shape, 0, 1, 'float32', 7));
    const x = tf.randomNormal([2, 5, 32], 0, 1, 'float32', 6);
    const tokens = 2 * 5;
    const saved: tf.Tensor[] = [];
    const { value, grads } = valueAndGrads(() => {
      const y = query!.forward(x).square().sum() as tf.Scalar;
      // What the backward pass will hold: the tape's saved tensors (core's valueAndGrads frees them after).
      const tape = (tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] } }).state
        .activeTape;
      for (const node of tape) saved.push(...(node.saved ?? []));
      return y;
    }, [A, B]);
    // The input itself and the weights are not activations; r-wide tensors are the adapter's own.
    const own = new Set([x, A, B, query!.weight].map((t) => t.dataId));
    const wide = saved.filter((t) => !own.has(t.dataId) && t.size > tokens * 2);
    // The Linear's output, kept by the loss's square and sum; nothing of the adapter is as wide (its
    // scaling once kept B's (…, out) product too).
    expect(wide.map((t) => t.shape)).toEqual([
      [2, 5, 32],
      [2, 5, 32],
    ]);
    expect(grads.every((g) => g !== null)).toBe(true);
    tf.dispose([x, value, ...grads.filter((g) => g !== null)]);
    model.dispose();
  });

  it('mergeLora folds the adapters (each Linear within 1e-6 relative, logits within 1e-5), unmergeLora restores the weights, unload(merge) saves as plain HF', async () => {
    const model = (await loadBertForSequenceClassification(BERT_FIXTURE)).eval();
    const x = bertInputs();
    const weights = model.namedParameters().map(([n, v]) => [n, v.clone()] as const);
    const base = tf.tidy(() => model.forward(x));
    const state = addLora(model, { r: 4, alpha: 16, targetModules: ['query', 'value', 'dense'] });
    randomizeB(model);
    const adapted = tf.tidy(() => model.forward(x));
    const linears = state.adapted.map((a) => a.adapter.members[0]!);
    const hs = linears.map((l, i) => tf.randomNormal([2, 6, l.inFeatures], 0, 1, 'float32', i));
    const perLinear = tf.tidy(() => linears.map((l, i) => tf.keep(l.forward(hs[i]!))));
    mergeLora(model);
    const merged = tf.tidy(() => model.forward(x));
    // The adapters move the logits, and merging reproduces them: each merged Linear to float32 rounding
    // (x·(W + ΔW) vs x·W + x·A·B: 1e-6 of the output's scale), the logits after two layers within 1e-5.
    expect(maxDiff(adapted, base)).toBeGreaterThan(0.1);
    tf.tidy(() => {
      linears.forEach((l, i) => {
        const y = perLinear[i]!;
        const scale = Math.max(1, y.abs().max().dataSync()[0]!);
        expect(maxDiff(l.forward(hs[i]!), y)).toBeLessThan(1e-6 * scale);
      });
    });
    expect(maxDiff(adapted, merged)).toBeLessThan(1e-5);
    unmergeLora(model);
    const now = model.stateDict();
    for (const [n, w] of weights) expect(maxDiff(now[n]!, w), n).toBeLessThan(1e-6);
    // W + Δ − Δ is W to float32 rounding (1e-6 above), which two layers amplify to a few 1e-6.
    tf.tidy(() => {
      expect(maxDiff(model.forward(x), adapted)).toBeLessThan(1e-5);
    });
    const tensorsBefore = tf.memory().numTensors;
    unloadLora(model, { merge: true });
    expect(loraState(model)).toBeUndefined();
    // Adapters freed (A and B per adapted Linear); the tree is the plain model again, trainable again.
    expect(tf.memory().numTensors).toBeLessThan(tensorsBefore);
    expect(model.namedParameters().some(([n]) => n.includes('lora'))).toBe(false);
    expect(model.parameters().every((v) => v.trainable)).toBe(true);
    await savePretrained(model, join(tmp, 'merged'));
    const reloaded = (await loadBertForSequenceClassification(join(tmp, 'merged'))).eval();
    tf.tidy(() => {
      expect(maxDiff(reloaded.forward(x), adapted)).toBeLessThan(1e-5);
    });
    tf.dispose([
      weights.map(([, w]) => w),
      perLinear,
      base,
      hs,
      adapted,
      merged,
      x.inputIds,
      x.attentionMask,
    ]);
    model.dispose();
    reloaded.dispose();
  });

  it('GPT-2: the default target c_attn is one adapter over query|key|value (shared A, B split along out)', () => {
    const model = new GPT('tiny').eval();
    const ids = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
    const state = addLora(model, { r: 2 });
    expect(state.naming.fanInFanOut).toBe(true);
    const d = model.config.hiddenSize;
    expect(state.adapted.length).toBe(model.config.numLayers);
    const first = state.adapted[0]!;
    expect(first.hf).toBe('transformer.h.0.attn.c_attn');
    expect(first.adapter.A.shape).toEqual([d, 2]);
    expect(first.adapter.B.shape).toEqual([2, 3 * d]);
    randomizeB(model);
    // The value projection's share of B is what reaches layer 0's value output.
    const attn = model.layers[0]!.attn;
    const h = tf.randomNormal([1, 3, d], 0, 1, 'float32', 9);
    tf.tidy(() => {
      const expectV = linear(h, attn.value.weight, attn.value.bias).add(
        h
          .matMul(first.adapter.A)
          .matMul(first.adapter.B.slice([0, 2 * d], [2, d]))
          .mul(first.adapter.scaling),
      );
      expect(maxDiff(attn.value.forward(h), expectV)).toBeLessThan(1e-5);
    });
    const adapted = tf.tidy(() => model.forward(ids));
    mergeLora(model);
    tf.tidy(() => {
      expect(maxDiff(model.forward(ids), adapted)).toBeLessThan(1e-5);
    });
    unloadLora(model);
    tf.dispose([ids, h, adapted]);
    model.dispose();
  });

  it('adapter dropout: active in train mode only; a fused group draws one mask for query|key|value', () => {
    const model = new GPT('tiny');
    const state = addLora(model, { r: 4, dropout: 0.5 });
    const { adapter } = state.adapted[0]!;
    const d = model.config.hiddenSize;
    // B's query and key columns equal: with one shared mask the two deltas are then identical.
    const bq = tf.randomNormal([4, d], 0, 0.5, 'float32', 1);
    adapter.B.assign(tf.concat([bq, bq, tf.zerosLike(bq)], 1));
    const attn = model.layers[0]!.attn;
    const h = tf.randomNormal([1, 4, d], 0, 1, 'float32', 2);
    tf.tidy(() => {
      const delta = (l: typeof attn.query) => l.forward(h).sub(linear(h, l.weight, l.bias));
      model.eval();
      const evalQ = delta(attn.query);
      expect(maxDiff(delta(attn.query), evalQ)).toBe(0);
      model.train();
      const q = delta(attn.query);
      const k = delta(attn.key);
      expect(maxDiff(q, evalQ)).toBeGreaterThan(1e-3);
      expect(maxDiff(k, q)).toBeLessThan(1e-5);
      // A fresh call draws a fresh mask.
      expect(maxDiff(delta(attn.query), q)).toBeGreaterThan(1e-3);
    });
    tf.dispose([h, bq]);
    unloadLora(model);
    model.dispose();
  });

  it('saves a PEFT adapter folder and loads it onto a fresh base model with the same outputs', async () => {
    const model = (await loadBertForSequenceClassification(BERT_FIXTURE)).eval();
    addLora(model, { r: 2, alpha: 4, dropout: 0.05, modulesToSave: ['classifier'], seed: 3 });
    randomizeB(model);
    const x = bertInputs();
    const want = tf.tidy(() => model.forward(x));
    const dir = join(tmp, 'adapter');
    await saveLoraAdapter(model, dir, { baseModelNameOrPath: 'org/tiny-bert', taskType: 'SEQ_CLS' });
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'SEQ_CLS',
      base_model_name_or_path: 'org/tiny-bert',
      r: 2,
      lora_alpha: 4,
      lora_dropout: 0.05,
      target_modules: ['query', 'value'],
      modules_to_save: ['classifier'],
      fan_in_fan_out: false,
      bias: 'none',
    });
    const header = await readFile(join(dir, 'adapter_model.safetensors'));
    const names = Object.keys(
      JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString()),
    ).sort();
    expect(names).toContain('base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight');
    expect(names).toContain('base_model.model.bert.encoder.layer.1.attention.self.value.lora_B.weight');
    expect(names).toContain('base_model.model.classifier.weight');
    expect(names).toContain('base_model.model.classifier.bias');
    expect(names.filter((n) => n !== '__metadata__').length).toBe(4 * 2 + 2);

    const fresh = (await loadBertForSequenceClassification(BERT_FIXTURE)).eval();
    await loadLoraAdapter(fresh, dir, { baseModelNameOrPath: 'org/tiny-bert' });
    tf.tidy(() => {
      expect(maxDiff(fresh.forward(x), want)).toBeLessThan(1e-6);
    });
    tf.dispose([want, x.inputIds, x.attentionMask]);
    model.dispose();
    fresh.dispose();
  });

  it('ViT: default query/value targets under HF names', () => {
    const model = new ViTForImageClassification('nano', { numLabels: 10 });
    const state = addLora(model);
    expect(state.naming.modelType).toBe('vit');
    expect(state.adapted[0]!.hf).toBe('vit.encoder.layer.0.attention.attention.query');
    expect(state.adapted.length).toBe(2 * model.config.numLayers);
    unloadLora(model);
    model.dispose();
  });

  describe('bad input is typed', () => {
    it('r <= 0, a fractional r, dropout >= 1', () => {
      const model = newBert();
      expect(() => addLora(model, { r: 0 })).toThrow(InvalidArgumentError);
      expect(() => addLora(model, { r: -2 })).toThrow(/r must be an integer > 0, got -2/);
      expect(() => addLora(model, { r: 1.5 })).toThrow(InvalidArgumentError);
      expect(() => addLora(model, { dropout: 1 })).toThrow(/dropout/);
      expect(loraState(model)).toBeUndefined();
      expect(model.parameters().every((v) => v.trainable)).toBe(true);
      model.dispose();
    });

    it("a target that matches nothing lists the model's Linear names", () => {
      const model = newBert();
      const err = (() => {
        try {
          addLora(model, { targetModules: ['c_attn'] });
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err!.message).toMatch(/\["c_attn"\] match no Linear/);
      expect(err!.message).toMatch(/query, key, value, dense, classifier/);
      expect(() => addLora(model, { modulesToSave: ['score'] })).toThrow(
        /modulesToSave \["score"\] match no module/,
      );
      expect(model.parameters().every((v) => v.trainable)).toBe(true);
      addLora(model);
      expect(() => addLora(model)).toThrow(/already has a LoRA adapter/);
      expect(() => unmergeLora(newBert())).toThrow(/no LoRA adapter/);
      model.dispose();
    });

    it('a PEFT config asking for what the kit does not implement is a CheckpointError naming it', () => {
      const base = { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['query'] };
      expect(optionsFromAdapterConfig(base)).toEqual({
        r: 4,
        alpha: 8,
        dropout: 0,
        targetModules: ['query'],
        modulesToSave: [],
        useRslora: false,
      });
      expect(() => optionsFromAdapterConfig({ ...base, use_dora: true, bias: 'all' })).toThrow(
        /not supported: bias 'all', use_dora/,
      );
      expect(() => optionsFromAdapterConfig({ ...base, peft_type: 'IA3' })).toThrow(CheckpointError);
      expect(() => optionsFromAdapterConfig({ ...base, r: '4' })).toThrow(/'r' is missing or not a number/);
    });

    it('an adapter for another base model: base_model_name_or_path or shapes differ; the model is left as it was', async () => {
      const model = (await loadBertForSequenceClassification(BERT_FIXTURE)).eval();
      await expect(
        loadLoraAdapter(model, LORA_FIXTURE, { baseModelNameOrPath: 'bert-base-uncased' }),
      ).rejects.toThrow(/adapter is for base model 'tiny-bert-cls', not 'bert-base-uncased'/);
      const wider = new BertForSequenceClassification(
        { hiddenSize: 48, numHeads: 4, intermediateSize: 64, vocabSize: 64, maxPositions: 24 },
        { numLabels: 3 },
      );
      const tensors = tf.memory().numTensors;
      const err = await loadLoraAdapter(wider, LORA_FIXTURE).catch((e: Error) => e);
      expect(err).toBeInstanceOf(CheckpointMismatchError);
      expect((err as Error).message).toMatch(
        /shape mismatch: .*query\.lora_A\.weight: file \[4,32\] vs model \[4,48\]/,
      );
      expect(tf.memory().numTensors).toBe(tensors);
      expect(loraState(wider)).toBeUndefined();
      expect(wider.parameters().every((v) => v.trainable)).toBe(true);
      const gpt = new GPT('tiny');
      await expect(loadLoraAdapter(gpt, LORA_FIXTURE)).rejects.toThrow(InvalidArgumentError);
      model.dispose();
      wider.dispose();
      gpt.dispose();
    });
  });
});
