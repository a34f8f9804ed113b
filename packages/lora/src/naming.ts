import type * as tf from '@tensorflow/tfjs';
import {
  BertForMaskedLM,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  hfParameterNames as bertNames,
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertModel,
  distilBertParameterNames,
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
  RobertaModel,
  robertaParameterNames,
} from '@transformer-kit/bert';
import { Linear, type Module } from '@transformer-kit/core';
import { GPT } from '@transformer-kit/gpt';
import {
  ViTForImageClassification,
  ViTMAEForPreTraining,
  ViTModel,
  hfParameterNames as vitNames,
} from '@transformer-kit/vit';

/**
 * Where each of a model's Linears sits in the HF model PEFT wraps, so target modules are matched and adapter
 * tensors named as PEFT does. GPT-2's c_attn is one fused Conv1D (query|key|value along `out`) where ours
 * are three Linears: they form one group that shares one lora_A and splits one lora_B along `out`.
 */
export interface HFLinear {
  /** The HF module name, e.g. `bert.encoder.layer.0.attention.self.query` or `transformer.h.0.attn.c_attn`. */
  hf: string;
  /** Our Linears that make up that HF module, concatenated along `out` in this order (one unless fused). */
  members: Linear[];
  /** Their dotted paths in our model. */
  paths: string[];
}

/** One of our parameters under its HF name (for modules_to_save); `transpose` when HF's layout is [out, in]. */
export interface HFParam {
  hf: string;
  param: tf.Variable;
  transpose: boolean;
}

export interface HFNaming {
  /** HF `model_type` (selects PEFT's default target modules), or undefined for a model the kit cannot name. */
  modelType: string | undefined;
  /** HF stores these weights [in, out] (GPT-2's Conv1D): PEFT's `fan_in_fan_out`. */
  fanInFanOut: boolean;
  linears: HFLinear[];
  params: HFParam[];
}

/** PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING, for the model types the kit has. */
export const DEFAULT_TARGET_MODULES: Record<string, string[]> = {
  gpt2: ['c_attn'],
  bert: ['query', 'value'],
  distilbert: ['q_lin', 'v_lin'],
  roberta: ['query', 'value'],
  vit: ['query', 'value'],
  vit_mae: ['query', 'value'],
};

// Our GPT names → HF GPT2LMHeadModel module names (gpt/src/hf.ts does the same for tensors).
const GPT_LINEARS: Array<[RegExp, string]> = [
  [/^layers\.(\d+)\.attn\.(query|key|value)$/, 'transformer.h.$1.attn.c_attn'],
  [/^layers\.(\d+)\.attn\.output$/, 'transformer.h.$1.attn.c_proj'],
  [/^layers\.(\d+)\.mlp\.hidden\.0$/, 'transformer.h.$1.mlp.c_fc'],
  [/^layers\.(\d+)\.mlp\.out$/, 'transformer.h.$1.mlp.c_proj'],
];

/**
 * The HF naming of `model`: GPT-2, BERT, DistilBERT and RoBERTa (every task model) and ViT (classifier, MAE) by their checkpoint
 * maps; any other Module keeps its own dotted names (PEFT-style targets still match by suffix).
 */
export function hfNaming(model: Module): HFNaming {
  const linears = model.namedModules().filter((e): e is [string, Linear] => e[1] instanceof Linear);
  if (model instanceof GPT) {
    const groups = new Map<string, HFLinear>();
    for (const [path, linear] of linears) {
      const rule = GPT_LINEARS.find(([re]) => re.test(path));
      const hf = rule ? path.replace(rule[0], rule[1]) : path;
      const g = groups.get(hf) ?? { hf, members: [], paths: [] };
      g.members.push(linear);
      g.paths.push(path);
      groups.set(hf, g);
    }
    // Conv1D weights are [in, out] like ours, so unfused Linears keep their layout.
    const params: HFParam[] = [...groups.values()]
      .filter((g) => g.members.length === 1)
      .flatMap((g) => {
        const l = g.members[0]!;
        return [
          { hf: `${g.hf}.weight`, param: l.weight, transpose: false },
          ...(l.bias ? [{ hf: `${g.hf}.bias`, param: l.bias, transpose: false }] : []),
        ];
      });
    return { modelType: 'gpt2', fanInFanOut: true, linears: [...groups.values()], params };
  }
  let entries: HFParam[] | undefined;
  let modelType: string | undefined;
  // DistilBertModel and RobertaModel extend BertModel: their own names first.
  if (
    model instanceof DistilBertModel ||
    model instanceof DistilBertForMaskedLM ||
    model instanceof DistilBertForSequenceClassification
  ) {
    modelType = 'distilbert';
    entries = distilBertParameterNames(model).map((e) => ({
      hf: e.hf,
      param: e.param,
      transpose: e.transpose,
    }));
  } else if (
    model instanceof RobertaModel ||
    model instanceof RobertaForMaskedLM ||
    model instanceof RobertaForSequenceClassification
  ) {
    modelType = 'roberta';
    entries = robertaParameterNames(model).map((e) => ({ hf: e.hf, param: e.param, transpose: e.transpose }));
  } else if (
    model instanceof BertModel ||
    model instanceof BertForMaskedLM ||
    model instanceof BertForSequenceClassification ||
    model instanceof BertForTokenClassification
  ) {
    modelType = 'bert';
    entries = bertNames(model).map((e) => ({ hf: e.hf, param: e.param, transpose: e.transpose }));
  } else if (
    model instanceof ViTModel ||
    model instanceof ViTForImageClassification ||
    model instanceof ViTMAEForPreTraining
  ) {
    modelType = model instanceof ViTMAEForPreTraining ? 'vit_mae' : 'vit';
    // Conv (patch) weights have no plain [out, in] transpose: they cannot be saved as modules_to_save.
    entries = vitNames(model)
      .filter((e) => e.kind !== 'conv')
      .map((e) => ({ hf: e.hf, param: e.param, transpose: e.kind === 'linear' }));
  }
  if (!entries) {
    return {
      modelType: undefined,
      fanInFanOut: false,
      linears: linears.map(([path, l]) => ({ hf: path, members: [l], paths: [path] })),
      params: model.namedParameters().map(([hf, param]) => ({ hf, param, transpose: false })),
    };
  }
  const byParam = new Map(entries.map((e) => [e.param, e.hf]));
  return {
    modelType,
    fanInFanOut: false,
    linears: linears.map(([path, l]) => ({
      hf: byParam.get(l.weight)?.replace(/\.weight$/, '') ?? path,
      members: [l],
      paths: [path],
    })),
    params: entries,
  };
}

/** PEFT's check_target_module_exists: a string is a regex matched in full; a list matches a name or its `.suffix`. */
export function matchesTarget(name: string, targets: string | readonly string[]): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(name);
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}
