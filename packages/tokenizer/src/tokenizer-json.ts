/**
 * HF tokenizer.json ⇄ Tokenizer, for the parts bert-base-uncased and gpt2 use: WordPiece and BPE models,
 * BertNormalizer, BertPreTokenizer / ByteLevel / WhitespaceSplit, TemplateProcessing / BertProcessing /
 * ByteLevel post-processors, WordPiece / ByteLevel decoders, added tokens, truncation and padding.
 * Anything else is a typed UNSUPPORTED error naming the part — never a guess.
 */
import { BPE, type Merge } from './bpe.js';
import { CharModel } from './char.js';
import {
  checkLength,
  type PaddingOptions,
  robertaTemplate,
  type Template,
  type TemplatePiece,
  type TruncationOptions,
} from './encoding.js';
import { malformed, TokenizerError } from './errors.js';
import { BertNormalizer } from './normalizer.js';
import type { PreTokenizerKind } from './pretokenizers.js';
import type { AddedTokenInput } from './special-tokens.js';
import { type DecoderKind, Tokenizer } from './tokenizer.js';
import { Vocab } from './vocab.js';
import { WordPiece } from './wordpiece.js';

type Json = any;

function checkByteLevel(p: Json, file: string): void {
  if (p.add_prefix_space) throw unsupported(file, 'ByteLevel pre_tokenizer add_prefix_space = true');
  if (p.use_regex === false) throw unsupported(file, 'ByteLevel pre_tokenizer use_regex = false');
}

const unsupported = (file: string, what: string) =>
  new TokenizerError('UNSUPPORTED', `${file}: ${what} is not supported by @transformer-kit/tokenizer`);

/** Parses the text of an HF tokenizer.json. */
export function parseTokenizerJson(text: string, file = 'tokenizer.json'): Tokenizer {
  if (typeof text !== 'string')
    throw malformed(file, null, `expected the file's text as a string, got ${typeof text}`);
  let j: Json;
  try {
    j = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec(String((e as Error).message));
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : null;
    throw malformed(file, line, `not valid JSON (${(e as Error).message})`);
  }
  return tokenizerFromJson(j, file);
}

export function tokenizerFromJson(j: Json, file = 'tokenizer.json'): Tokenizer {
  try {
    return fromJson(j, file);
  } catch (e) {
    // The checks below name each field they know; a shape nobody anticipated (a number where an object
    // goes, say) still ends as a typed error naming the file, never a raw TypeError from deep inside.
    if (e instanceof TypeError || e instanceof RangeError)
      throw malformed(file, null, `unexpected structure (${e.message})`);
    throw e;
  }
}

const isObject = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);

/** `x` when it is an array, [] when absent; anything else is MALFORMED_FILE naming `what`. */
function listOf(x: unknown, file: string, what: string): unknown[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x))
    throw malformed(file, null, `${what} must be a list, got ${JSON.stringify(x)?.slice(0, 40)}`);
  return x;
}

function fromJson(j: Json, file: string): Tokenizer {
  if (!isObject(j)) throw malformed(file, null, 'expected a JSON object');
  if (!isObject(j.model)) throw malformed(file, null, 'missing "model"');
  const m = j.model;
  const type =
    m.type ?? (m.merges ? 'BPE' : m.continuing_subword_prefix !== undefined ? 'WordPiece' : undefined);
  let model: WordPiece | BPE | CharModel;
  if (['WordPiece', 'BPE', 'CharLevel'].includes(type) && m.vocab !== undefined && !isObject(m.vocab))
    throw malformed(file, null, 'model.vocab must be an object {"token": id}');
  if (type === 'WordPiece') {
    model = new WordPiece(new Vocab(m.vocab ?? {}, `${file} model.vocab`), {
      unkToken: m.unk_token ?? '[UNK]',
      continuingSubwordPrefix: m.continuing_subword_prefix ?? '##',
      maxInputCharsPerWord: m.max_input_chars_per_word ?? 100,
    });
  } else if (type === 'BPE') {
    for (const [k, ok] of [
      ['dropout', m.dropout == null],
      ['unk_token', m.unk_token == null],
      ['continuing_subword_prefix', !m.continuing_subword_prefix],
      ['end_of_word_suffix', !m.end_of_word_suffix],
      ['fuse_unk', !m.fuse_unk],
      ['byte_fallback', !m.byte_fallback],
      ['ignore_merges', !m.ignore_merges],
    ] as const) {
      if (!ok) throw unsupported(file, `BPE model option ${k} = ${JSON.stringify(m[k])}`);
    }
    const merges: Merge[] = listOf(m.merges, file, 'model.merges').map((x: unknown, i: number) => {
      const pair = typeof x === 'string' ? x.split(' ') : x;
      if (
        !Array.isArray(pair) ||
        pair.length !== 2 ||
        typeof pair[0] !== 'string' ||
        typeof pair[1] !== 'string'
      ) {
        throw malformed(
          file,
          null,
          `model.merges[${i}] is not "left right" or ["left", "right"]: ${JSON.stringify(x)}`,
        );
      }
      return [pair[0], pair[1]] as Merge;
    });
    model = new BPE(new Vocab(m.vocab ?? {}, `${file} model.vocab`), merges);
  } else if (type === 'CharLevel') {
    model = new CharModel(new Vocab(m.vocab ?? {}, `${file} model.vocab`), m.unk_token ?? null);
  } else {
    throw unsupported(file, `model type ${JSON.stringify(type)}`);
  }

  let normalizer: BertNormalizer | null = null;
  const n = j.normalizer;
  if (n) {
    if (n.type !== 'BertNormalizer') throw unsupported(file, `normalizer ${JSON.stringify(n.type)}`);
    normalizer = new BertNormalizer({
      cleanText: n.clean_text ?? true,
      handleChineseChars: n.handle_chinese_chars ?? true,
      stripAccents: n.strip_accents ?? null,
      lowercase: n.lowercase ?? true,
    });
  }

  let preTokenizer: PreTokenizerKind = 'none';
  let addPrefixSpace = false;
  const p = j.pre_tokenizer;
  if (p) {
    if (p.type === 'BertPreTokenizer') preTokenizer = 'bert';
    else if (p.type === 'WhitespaceSplit') preTokenizer = 'whitespaceSplit';
    else if (p.type === 'ByteLevel') {
      if (p.use_regex === false) throw unsupported(file, 'ByteLevel pre_tokenizer use_regex = false');
      preTokenizer = 'byteLevel';
      addPrefixSpace = p.add_prefix_space === true;
    } else if (
      p.type === 'Sequence' &&
      p.pretokenizers?.length === 2 &&
      p.pretokenizers[0]?.type === 'Digits' &&
      p.pretokenizers[1]?.type === 'ByteLevel'
    ) {
      // SmolLM2's (and Llama 3-style) files: digits one by one, then GPT-2's byte-level split.
      if (p.pretokenizers[0].individual_digits !== true)
        throw unsupported(file, 'Digits pre_tokenizer with individual_digits = false');
      checkByteLevel(p.pretokenizers[1], file);
      preTokenizer = 'digitsByteLevel';
    } else
      throw unsupported(
        file,
        `pre_tokenizer ${JSON.stringify(p.type === 'Sequence' ? p.pretokenizers?.map((x: Json) => x?.type) : p.type)}`,
      );
  }

  let template: Template | null = null;
  let trimOffsets = false;
  const pp = j.post_processor;
  if (pp) {
    if (pp.type === 'TemplateProcessing') template = parseTemplate(pp, file);
    else if (pp.type === 'BertProcessing') {
      const token = (v: unknown, what: string, fallback: string): string => {
        if (v === undefined || v === null) return fallback;
        if (!Array.isArray(v) || typeof v[0] !== 'string')
          throw malformed(
            file,
            null,
            `post_processor.${what} must be ["token", id], got ${JSON.stringify(v)}`,
          );
        return v[0];
      };
      const cls = token(pp.cls, 'cls', '[CLS]');
      const sep = token(pp.sep, 'sep', '[SEP]');
      template = {
        single: [
          { special: cls, typeId: 0 },
          { sequence: 'A', typeId: 0 },
          { special: sep, typeId: 0 },
        ],
        pair: [
          { special: cls, typeId: 0 },
          { sequence: 'A', typeId: 0 },
          { special: sep, typeId: 0 },
          { sequence: 'B', typeId: 1 },
          { special: sep, typeId: 1 },
        ],
      };
    } else if (pp.type === 'RobertaProcessing') {
      template = robertaTemplate(pp.cls?.[0] ?? '<s>', pp.sep?.[0] ?? '</s>');
      trimOffsets = pp.trim_offsets ?? true;
    } else if (pp.type === 'ByteLevel') trimOffsets = pp.trim_offsets ?? true;
    else throw unsupported(file, `post_processor ${JSON.stringify(pp.type)}`);
  }

  let decoder: DecoderKind = model.kind === 'char' ? 'char' : 'none';
  let cleanup = true;
  const d = j.decoder;
  if (d) {
    if (d.type === 'WordPiece') {
      if ((d.prefix ?? '##') !== '##')
        throw unsupported(file, `WordPiece decoder prefix ${JSON.stringify(d.prefix)}`);
      decoder = 'wordpiece';
      cleanup = d.cleanup ?? true;
    } else if (d.type === 'ByteLevel') decoder = 'byteLevel';
    else if (d.type === 'Fuse') decoder = 'char';
    else throw unsupported(file, `decoder ${JSON.stringify(d.type)}`);
  }

  const added: AddedTokenInput[] = listOf(j.added_tokens, file, 'added_tokens').map((t: Json, i: number) => {
    if (!t || typeof t.content !== 'string' || !Number.isInteger(t.id))
      throw malformed(file, null, `added_tokens[${i}] needs "id" and "content"`);
    if (t.single_word)
      throw unsupported(file, `added token ${JSON.stringify(t.content)} with single_word = true`);
    return {
      id: t.id,
      content: t.content,
      special: !!t.special,
      normalized: !!t.normalized,
      lstrip: !!t.lstrip,
      rstrip: !!t.rstrip,
    };
  });

  return new Tokenizer({
    model,
    normalizer,
    preTokenizer,
    template,
    decoder,
    cleanup,
    trimOffsets,
    addPrefixSpace,
    addedTokens: added,
    truncation: parseTruncation(j.truncation, file),
    padding: parsePadding(j.padding, file),
  });
}

function parseTemplate(pp: Json, file: string): Template {
  const pieces = (list: Json, which: string): TemplatePiece[] => {
    if (!Array.isArray(list)) throw malformed(file, null, `post_processor.${which} must be a list`);
    return list.map((x: Json, i: number) => {
      if (!isObject(x))
        throw malformed(file, null, `post_processor.${which}[${i}] is not an object: ${JSON.stringify(x)}`);
      if (x.SpecialToken) {
        if (typeof x.SpecialToken.id !== 'string')
          throw malformed(file, null, `post_processor.${which}[${i}].SpecialToken.id must be a string`);
        checkTypeId(x.SpecialToken.type_id, file, which, i);
        const st = pp.special_tokens?.[x.SpecialToken.id];
        if (st && (st.ids?.length !== 1 || st.tokens?.[0] !== x.SpecialToken.id)) {
          throw unsupported(
            file,
            `template special token ${JSON.stringify(x.SpecialToken.id)} made of several tokens`,
          );
        }
        return { special: x.SpecialToken.id, typeId: x.SpecialToken.type_id ?? 0 };
      }
      if (x.Sequence) checkTypeId(x.Sequence.type_id, file, which, i);
      if (x.Sequence) return { sequence: x.Sequence.id === 'B' ? 'B' : 'A', typeId: x.Sequence.type_id ?? 0 };
      throw malformed(file, null, `post_processor.${which}: unknown piece ${JSON.stringify(x)}`);
    });
  };
  return { single: pieces(pp.single, 'single'), pair: pieces(pp.pair, 'pair') };
}

function checkTypeId(v: unknown, file: string, which: string, i: number): void {
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 16))
    throw malformed(
      file,
      null,
      `post_processor.${which}[${i}] type_id ${JSON.stringify(v)} is not a small non-negative integer`,
    );
}

/** A length field as a typed MALFORMED_FILE error naming it (bounded like every padded length). */
function lengthField(v: unknown, file: string, what: string, min: number): number {
  try {
    checkLength(what, v, min);
  } catch (e) {
    throw malformed(file, null, (e as Error).message);
  }
  return v as number;
}

function parseTruncation(t: Json, file: string): TruncationOptions | null {
  if (!t) return null;
  if (!isObject(t)) throw malformed(file, null, 'truncation must be an object or null');
  if (t.stride) throw unsupported(file, `truncation stride ${t.stride}`);
  const strategy = (
    { LongestFirst: 'longest_first', OnlyFirst: 'only_first', OnlySecond: 'only_second' } as const
  )[t.strategy as 'LongestFirst'];
  if (!strategy) throw malformed(file, null, `truncation.strategy ${JSON.stringify(t.strategy)}`);
  const maxLength = lengthField(t.max_length, file, 'truncation.max_length', 0);
  return { maxLength, strategy, direction: t.direction === 'Left' ? 'left' : 'right' };
}

function parsePadding(p: Json, file: string): PaddingOptions | null {
  if (!p) return null;
  if (!isObject(p)) throw malformed(file, null, 'padding must be an object or null');
  const fixed = isObject(p.strategy) ? p.strategy.Fixed : undefined;
  if (p.strategy !== 'BatchLongest' && fixed === undefined)
    throw malformed(file, null, `padding.strategy ${JSON.stringify(p.strategy)}`);
  const id = (v: unknown, what: string) => {
    if (v === undefined || v === null) return 0;
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= 2 ** 31)
      throw malformed(file, null, `${what} ${JSON.stringify(v)} is not a non-negative integer id`);
    return v as number;
  };
  const token = p.pad_token ?? '[PAD]';
  if (typeof token !== 'string') throw malformed(file, null, 'padding.pad_token must be a string');
  return {
    ...(fixed !== undefined ? { length: lengthField(fixed, file, 'padding.strategy.Fixed', 0) } : {}),
    direction: p.direction === 'Left' ? 'left' : 'right',
    padId: id(p.pad_id, 'padding.pad_id'),
    padTypeId: id(p.pad_type_id, 'padding.pad_type_id'),
    padToken: token,
    ...(p.pad_to_multiple_of
      ? { padToMultipleOf: lengthField(p.pad_to_multiple_of, file, 'padding.pad_to_multiple_of', 1) }
      : {}),
  };
}

/** The tokenizer as an HF tokenizer.json object (JSON.stringify it to save); HF's `tokenizers` loads it. */
export function tokenizerToJson(t: Tokenizer): Json {
  const m = t.model;
  let model: Json;
  if (m instanceof WordPiece) {
    model = {
      type: 'WordPiece',
      unk_token: m.config.unkToken,
      continuing_subword_prefix: m.config.continuingSubwordPrefix,
      max_input_chars_per_word: m.config.maxInputCharsPerWord,
      vocab: vocabObject(m.vocab),
    };
  } else if (m instanceof BPE) {
    model = {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: vocabObject(m.vocab),
      merges: m.merges.map(([a, b]) => `${a} ${b}`),
    };
  } else if (m instanceof CharModel) {
    model = { type: 'CharLevel', unk_token: m.unkToken, vocab: vocabObject(m.vocab) };
  } else
    throw new TokenizerError('UNSUPPORTED', `cannot save a model of kind ${(m as { kind: string }).kind}`);
  const n = t.normalizer?.config;
  const byteLevel = { add_prefix_space: t.addPrefixSpace, trim_offsets: t.trimOffsets, use_regex: true };
  const tpl = t.template;
  // RoBERTa's template with trimmed offsets is RobertaProcessing (TemplateProcessing cannot trim offsets).
  const roberta = robertaShape(tpl, t.trimOffsets);
  const piece = (p: TemplatePiece) =>
    'special' in p
      ? { SpecialToken: { id: p.special, type_id: p.typeId } }
      : { Sequence: { id: p.sequence, type_id: p.typeId } };
  const specials = tpl
    ? [...new Set([...tpl.single, ...tpl.pair].flatMap((p) => ('special' in p ? [p.special] : [])))]
    : [];
  const tr = t.truncation;
  const pd = t.padding;
  return {
    version: '1.0',
    truncation: tr
      ? {
          direction: tr.direction === 'left' ? 'Left' : 'Right',
          max_length: tr.maxLength,
          strategy: { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' }[
            tr.strategy ?? 'longest_first'
          ],
          stride: 0,
        }
      : null,
    padding: pd
      ? {
          strategy: pd.length !== undefined ? { Fixed: pd.length } : 'BatchLongest',
          direction: pd.direction === 'left' ? 'Left' : 'Right',
          pad_to_multiple_of: pd.padToMultipleOf ?? null,
          pad_id: pd.padId ?? t.specialId(pd.padToken ?? '[PAD]'),
          pad_type_id: pd.padTypeId ?? 0,
          pad_token: pd.padToken ?? '[PAD]',
        }
      : null,
    added_tokens: t.addedTokens.map((a) => ({
      id: a.id,
      content: a.content,
      single_word: false,
      lstrip: a.lstrip,
      rstrip: a.rstrip,
      normalized: a.normalized,
      special: a.special,
    })),
    normalizer: n
      ? {
          type: 'BertNormalizer',
          clean_text: n.cleanText,
          handle_chinese_chars: n.handleChineseChars,
          strip_accents: n.stripAccents,
          lowercase: n.lowercase,
        }
      : null,
    pre_tokenizer:
      t.preTokenizer === 'bert'
        ? { type: 'BertPreTokenizer' }
        : t.preTokenizer === 'byteLevel'
          ? { type: 'ByteLevel', ...byteLevel }
          : t.preTokenizer === 'digitsByteLevel'
            ? {
                type: 'Sequence',
                pretokenizers: [
                  { type: 'Digits', individual_digits: true },
                  { type: 'ByteLevel', ...byteLevel },
                ],
              }
            : t.preTokenizer === 'whitespaceSplit'
              ? { type: 'WhitespaceSplit' }
              : null,
    post_processor: roberta
      ? {
          type: 'RobertaProcessing',
          sep: [roberta.sep, t.specialId(roberta.sep)],
          cls: [roberta.cls, t.specialId(roberta.cls)],
          trim_offsets: t.trimOffsets,
          add_prefix_space: t.addPrefixSpace,
        }
      : tpl
        ? {
            type: 'TemplateProcessing',
            single: tpl.single.map(piece),
            pair: tpl.pair.map(piece),
            special_tokens: Object.fromEntries(
              specials.map((s) => [s, { id: s, ids: [t.specialId(s)], tokens: [s] }]),
            ),
          }
        : t.preTokenizer === 'byteLevel' || t.preTokenizer === 'digitsByteLevel'
          ? { type: 'ByteLevel', ...byteLevel }
          : null,
    decoder:
      t.decoder === 'wordpiece'
        ? { type: 'WordPiece', prefix: '##', cleanup: t.cleanup }
        : t.decoder === 'byteLevel'
          ? { type: 'ByteLevel', ...byteLevel }
          : t.decoder === 'char'
            ? { type: 'Fuse' }
            : null,
    model,
  };
}

function vocabObject(v: Vocab): Record<string, number> {
  const o: Record<string, number> = {};
  v.idToToken.forEach((t, i) => {
    o[t] = i;
  });
  return o;
}

function robertaShape(tpl: Template | null, trimOffsets: boolean): { cls: string; sep: string } | undefined {
  const first = tpl?.single[0];
  const last = tpl?.single[2];
  if (!tpl || !trimOffsets || !first || !last || !('special' in first) || !('special' in last))
    return undefined;
  return JSON.stringify(tpl) === JSON.stringify(robertaTemplate(first.special, last.special))
    ? { cls: first.special, sep: last.special }
    : undefined;
}
