import {
  type CheckpointSource,
  CONFIG_FILE,
  checkModelType,
  type HFConfig,
  type HubOptions,
  hfLabels,
  parseConfig,
  readCheckpointFile,
  resolveSource,
} from '@transformer-kit/core';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import { bertConfigFromHF, bertConfigToHF, hfParameterNames } from './checkpoint.js';
import {
  encodeFamily,
  type Family,
  type FamilyLoadOptions,
  familyTokenizer,
  type HFEntry,
  loadFamily,
  saveFamily,
} from './family-checkpoint.js';
import type { BertConfig } from './model.js';
import {
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
  RobertaModel,
  type RobertaTaskModel,
  robertaConfig,
} from './roberta.js';

/*
 * HuggingFace RoBERTa folders ⇄ our modules. The backbone has BERT's names (checkpoint.ts's table, under
 * `roberta.` in task files); the heads: lm_head.{dense, layer_norm, bias} (decoder tied: never read or
 * written), classifier.{dense, out_proj}.
 */

const HEADS: Array<[RegExp, string, boolean]> = [
  [/^lmHead\.dense\.(weight|bias)$/, 'lm_head.dense.$1', true],
  [/^lmHead\.layerNorm\.(weight|bias)$/, 'lm_head.layer_norm.$1', false],
  [/^lmHead\.bias$/, 'lm_head.bias', false],
  [/^classifier\.mlp\.hidden\.0\.(weight|bias)$/, 'classifier.dense.$1', true],
  [/^classifier\.mlp\.out\.(weight|bias)$/, 'classifier.out_proj.$1', true],
];

const IGNORED = [
  /(^|\.)position_ids$/,
  /(^|\.)token_type_ids$/,
  /^lm_head\./,
  /^classifier\./,
  /^(roberta\.)?pooler\./,
];

/** Our parameters with their HF names and layouts. */
export function robertaParameterNames(model: RobertaTaskModel): HFEntry[] {
  if (model instanceof RobertaModel) return hfParameterNames(model);
  const backbone = hfParameterNames(model.roberta).map((e) => ({
    ...e,
    ours: `roberta.${e.ours}`,
    hf: `roberta.${e.hf}`,
  }));
  const own = model.namedParameters().filter(([n]) => !n.startsWith('roberta.'));
  return [
    ...backbone,
    ...own.map(([ours, param]) => {
      const rule = HEADS.find(([re]) => re.test(ours))!;
      return {
        ours,
        hf: ours.replace(rule[0], rule[1]),
        transpose: rule[2] && ours.endsWith('.weight'),
        param,
      };
    }),
  ];
}

/** BERT's config reader with RoBERTa's model_type and positions. */
export function robertaConfigFromHF(hf: HFConfig): BertConfig {
  checkModelType(hf, ['roberta', 'xlm-roberta']);
  return robertaConfig(
    bertConfigFromHF({ ...hf, model_type: 'bert', layer_norm_eps: hf.layer_norm_eps ?? 1e-5 }),
  );
}

export function robertaConfigToHF(c: BertConfig): HFConfig {
  return { ...bertConfigToHF(c), model_type: 'roberta', bos_token_id: 0, eos_token_id: 2 };
}

function architecture(m: RobertaTaskModel): string {
  if (m instanceof RobertaForMaskedLM) return 'RobertaForMaskedLM';
  if (m instanceof RobertaForSequenceClassification) return 'RobertaForSequenceClassification';
  return 'RobertaModel';
}

const FAMILY: Family<RobertaTaskModel, BertConfig> = {
  name: 'RoBERTa',
  prefix: 'roberta',
  backboneRoots: ['embeddings', 'encoder', 'pooler'],
  configFromHF: robertaConfigFromHF,
  names: robertaParameterNames,
  isBackbone: (m) => m instanceof RobertaModel,
  architecture,
  ignored: IGNORED,
};

export type RobertaLoadOptions = FamilyLoadOptions;

/** A RobertaModel; its pooler when the file has one (a task file has none: pass { pooler: false }). */
export function loadRobertaModel(
  source: CheckpointSource,
  { pooler = true }: { pooler?: boolean } = {},
): Promise<RobertaModel> {
  return loadFamily(FAMILY, source, (c) => new RobertaModel(c, { pooler })) as Promise<RobertaModel>;
}

export function loadRobertaForMaskedLM(
  source: CheckpointSource,
  options: RobertaLoadOptions = {},
): Promise<RobertaForMaskedLM> {
  return loadFamily(FAMILY, source, (c) => new RobertaForMaskedLM(c), options) as Promise<RobertaForMaskedLM>;
}

export function loadRobertaForSequenceClassification(
  source: CheckpointSource,
  options: RobertaLoadOptions & { numLabels?: number } = {},
): Promise<RobertaForSequenceClassification> {
  return loadFamily(
    FAMILY,
    source,
    (c, hf) =>
      new RobertaForSequenceClassification(c, {
        ...hfLabels(hf, options.numLabels),
        ...(typeof hf.classifier_dropout === 'number' ? { classifierDropout: hf.classifier_dropout } : {}),
      }),
    options,
  ) as Promise<RobertaForSequenceClassification>;
}

export function saveRobertaPretrained(
  model: RobertaTaskModel,
  dir: string,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  return saveFamily(
    robertaParameterNames(model),
    dir,
    { architectures: [architecture(model)], ...robertaConfigToHF(model.config) },
    { tokenizer, id2label: model instanceof RobertaForSequenceClassification ? model.id2label : undefined },
  );
}

/** AutoModel + AutoTokenizer for RoBERTa folders, URLs, files or Hub ids ('roberta-base'). */
export async function loadRobertaPretrained(
  from: CheckpointSource,
  options: RobertaLoadOptions & { numLabels?: number } & HubOptions = {},
): Promise<{ model: RobertaTaskModel; tokenizer?: Tokenizer }> {
  const source = await resolveSource(from, options);
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  checkModelType(hf, ['roberta', 'xlm-roberta']);
  const tokenizer = await familyTokenizer(source, hf);
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? '');
  const model: RobertaTaskModel = arch.endsWith('ForMaskedLM')
    ? await loadRobertaForMaskedLM(source, options)
    : arch.endsWith('ForSequenceClassification')
      ? await loadRobertaForSequenceClassification(source, options)
      : await loadRobertaModel(source);
  return tokenizer ? { model, tokenizer } : { model };
}

/** The files saveRobertaPretrained writes, as bytes by file name (the page's downloads). */
export function encodeRobertaPretrained(
  model: RobertaTaskModel,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<Map<string, Uint8Array>> {
  return encodeFamily(
    robertaParameterNames(model),
    { architectures: [architecture(model)], ...robertaConfigToHF(model.config) },
    { tokenizer, id2label: model instanceof RobertaForSequenceClassification ? model.id2label : undefined },
  );
}
