/**
 * The Tokenizer: added tokens → normalizer → pre-tokenizer → model → truncation → template → padding,
 * the same pipeline (and the same answers) as HuggingFace tokenizers. decode runs it backwards.
 */
import { BPE, type Merge } from './bpe.js';
import { CharModel } from './char.js';
import {
  applyTemplate,
  bertTemplate,
  checkLength,
  countSpecial,
  type Encoding,
  type PaddingOptions,
  pad,
  robertaTemplate,
  type Seq,
  type Template,
  type TruncationOptions,
  truncate,
} from './encoding.js';
import { assertText, invalidInput, TokenizerError } from './errors.js';
import { BertNormalizer, type BertNormalizerConfig, identity, type Normalized } from './normalizer.js';
import { type PreTokenizerKind, preTokenize } from './pretokenizers.js';
import { type AddedToken, type AddedTokenInput, addedToken, TokenMatcher } from './special-tokens.js';
import { BYTE_TO_CHAR, CHAR_TO_BYTE, utf8Decode, utf8Encode } from './unicode.js';
import { type Model, Vocab } from './vocab.js';
import { WordPiece, type WordPieceConfig } from './wordpiece.js';

export type DecoderKind = 'wordpiece' | 'byteLevel' | 'char' | 'none';

export interface TokenizerConfig {
  model: Model;
  normalizer?: BertNormalizer | null;
  preTokenizer?: PreTokenizerKind;
  /** Special tokens put around sequences by encode (null: none). */
  template?: Template | null;
  decoder?: DecoderKind;
  /** Tokens matched whole before anything else; strings are special tokens. */
  addedTokens?: AddedTokenInput[];
  /** HF ByteLevel post-processor's trim_offsets: leading/trailing "Ġ" are left out of offsets. */
  trimOffsets?: boolean;
  /**
   * HF ByteLevel pre-tokenizer's add_prefix_space: a space goes in front of every piece of text (between
   * added tokens) that does not start with one, so the first word is tokenized as a word after a space.
   */
  addPrefixSpace?: boolean;
  /** WordPiece decoder's cleanup of " ," " ." " n't" …; HF's default is true. */
  cleanup?: boolean;
  truncation?: TruncationOptions | null;
  padding?: PaddingOptions | null;
  /** Unit of offsets: UTF-16 code units (slice-able, the default) or code points (what HF's bindings report). */
  offsetUnit?: OffsetUnit;
}

export type OffsetUnit = 'utf16' | 'codepoint';

export interface EncodeOptions {
  addSpecialTokens?: boolean;
  truncation?: TruncationOptions | null;
  padding?: PaddingOptions | null;
  offsetUnit?: OffsetUnit;
}

export type EncodeInput = string | [string, string | null | undefined];

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface WordPieceTokenizerOptions extends Partial<WordPieceConfig> {
  normalizer?: Partial<BertNormalizerConfig> | null;
  /** Special tokens; their ids come from the vocabulary. Default: [PAD] [UNK] [CLS] [SEP] [MASK]. */
  specialTokens?: string[];
  cls?: string;
  sep?: string;
  template?: Template | null;
}

export interface BpeTokenizerOptions {
  /** Default: ["<|endoftext|>"] when it is in the vocabulary. */
  specialTokens?: string[];
  template?: Template | null;
  trimOffsets?: boolean;
}

export class Tokenizer {
  readonly model: Model;
  readonly normalizer: BertNormalizer | null;
  readonly preTokenizer: PreTokenizerKind;
  readonly template: Template | null;
  readonly decoder: DecoderKind;
  readonly trimOffsets: boolean;
  readonly addPrefixSpace: boolean;
  readonly cleanup: boolean;
  truncation: TruncationOptions | null;
  padding: PaddingOptions | null;
  offsetUnit: OffsetUnit;
  private added: AddedToken[] = [];
  private addedIds: number[] = [];
  private addedById = new Map<number, AddedToken>();
  private addedByContent = new Map<string, number>();
  private rawMatcher!: TokenMatcher;
  private normMatcher: TokenMatcher | null = null;

  constructor(config: TokenizerConfig) {
    this.model = config.model;
    this.normalizer = config.normalizer ?? null;
    this.preTokenizer = config.preTokenizer ?? 'none';
    this.template = config.template ?? null;
    this.decoder = config.decoder ?? 'none';
    this.trimOffsets = config.trimOffsets ?? false;
    this.addPrefixSpace = config.addPrefixSpace ?? false;
    this.cleanup = config.cleanup ?? true;
    this.truncation = config.truncation ?? null;
    this.padding = config.padding ?? null;
    this.offsetUnit = config.offsetUnit ?? 'utf16';
    this.addTokens(config.addedTokens ?? [], true);
    // A template must only name tokens we have.
    for (const p of [...(this.template?.single ?? []), ...(this.template?.pair ?? [])]) {
      if ('special' in p) this.specialId(p.special);
    }
  }

  // ---- factories ----

  /** BERT: BertNormalizer (uncased by default) + BertPreTokenizer + WordPiece + [CLS] A [SEP] B [SEP]. */
  static wordPiece(
    vocab: Vocab | readonly string[] | Record<string, number>,
    opts: WordPieceTokenizerOptions = {},
  ): Tokenizer {
    const v = vocab instanceof Vocab ? vocab : new Vocab(vocab);
    const specials = opts.specialTokens ?? ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
    for (const s of specials) {
      if (!v.tokenToId.has(s)) {
        throw new TokenizerError(
          'MISSING_SPECIAL_TOKEN',
          `WordPiece tokenizer: special token ${JSON.stringify(s)} is not in the vocabulary`,
        );
      }
    }
    return new Tokenizer({
      model: new WordPiece(v, opts),
      normalizer: opts.normalizer === null ? null : new BertNormalizer(opts.normalizer ?? {}),
      preTokenizer: 'bert',
      template: opts.template === undefined ? bertTemplate(opts.cls, opts.sep) : opts.template,
      decoder: 'wordpiece',
      addedTokens: specials.map((content) => ({ content, special: true, normalized: false })),
    });
  }

  /** GPT-2: ByteLevel pre-tokenizer (GPT-2's regex) + byte-level BPE, no template, <|endoftext|> special. */
  static byteLevelBPE(
    vocab: Vocab | Record<string, number>,
    merges: Merge[],
    opts: BpeTokenizerOptions = {},
  ): Tokenizer {
    const v = vocab instanceof Vocab ? vocab : new Vocab(vocab);
    const specials = opts.specialTokens ?? (v.tokenToId.has('<|endoftext|>') ? ['<|endoftext|>'] : []);
    return new Tokenizer({
      model: new BPE(v, merges),
      preTokenizer: 'byteLevel',
      template: opts.template ?? null,
      decoder: 'byteLevel',
      trimOffsets: opts.trimOffsets ?? false,
      addedTokens: specials.map((content) => ({ content, special: true, normalized: true })),
    });
  }

  /**
   * RoBERTa: GPT-2's byte-level BPE with <s> A </s> (pairs <s> A </s></s> B </s>), specials <s> <pad> </s>
   * <unk> <mask> (<mask> takes the space before it, lstrip), offsets trimmed as HF's RobertaProcessing.
   */
  static roberta(
    vocab: Vocab | Record<string, number>,
    merges: Merge[],
    opts: { addPrefixSpace?: boolean } = {},
  ): Tokenizer {
    const v = vocab instanceof Vocab ? vocab : new Vocab(vocab);
    return new Tokenizer({
      model: new BPE(v, merges),
      preTokenizer: 'byteLevel',
      template: robertaTemplate(),
      decoder: 'byteLevel',
      trimOffsets: true,
      addPrefixSpace: opts.addPrefixSpace ?? false,
      addedTokens: ['<s>', '<pad>', '</s>', '<unk>', '<mask>'].map((content) => ({
        content,
        special: true,
        normalized: content !== '<mask>',
        lstrip: content === '<mask>',
      })),
    });
  }

  /** One token per character; `chars` is the vocabulary (e.g. every character of a corpus). */
  static char(
    chars: readonly string[],
    opts: { specialTokens?: string[]; unkToken?: string | null } = {},
  ): Tokenizer {
    const specials = opts.specialTokens ?? [];
    const v = new Vocab([...specials, ...chars.filter((c) => !specials.includes(c))]);
    return new Tokenizer({
      model: new CharModel(v, opts.unkToken ?? null),
      decoder: 'char',
      addedTokens: specials.map((content) => ({ content, special: true, normalized: false })),
    });
  }

  // ---- vocabulary ----

  get vocabSize(): number {
    let n = this.model.vocab.size;
    for (const id of this.addedIds) n = Math.max(n, id + 1);
    return n;
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.model.vocab.tokenToId.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.vocab.idToToken[id];
  }

  /** The id of a token that must exist (e.g. "[MASK]"); a MISSING_SPECIAL_TOKEN error otherwise. */
  specialId(token: string): number {
    const id = this.tokenToId(token);
    if (id === undefined) {
      throw new TokenizerError(
        'MISSING_SPECIAL_TOKEN',
        `token ${JSON.stringify(token)} is needed but not in the vocabulary`,
      );
    }
    return id;
  }

  /** The added tokens (special or not) in the order they were added. */
  get addedTokens(): readonly (AddedToken & { id: number })[] {
    return this.added.map((t, i) => ({ ...t, id: this.addedIds[i]! }));
  }

  /** Adds tokens matched whole in text; a token not in the vocabulary gets the next free id. Returns how many were new. */
  addTokens(tokens: AddedTokenInput[], special = false): number {
    let n = 0;
    for (const input of tokens) {
      const t = addedToken(input, special);
      if (this.addedByContent.has(t.content)) continue;
      const pinned = typeof input === 'string' ? undefined : input.id;
      const id = pinned ?? this.model.vocab.tokenToId.get(t.content) ?? this.vocabSize;
      if (!Number.isInteger(id) || id < 0)
        throw invalidInput(`added token ${JSON.stringify(t.content)}: bad id ${id}`);
      const clash =
        this.addedById.get(id) ??
        (this.model.vocab.idToToken[id] !== t.content ? this.model.vocab.idToToken[id] : undefined);
      if (clash !== undefined) {
        throw new TokenizerError(
          'DUPLICATE_TOKEN',
          `added token ${JSON.stringify(t.content)}: id ${id} already belongs to ${JSON.stringify(typeof clash === 'string' ? clash : clash.content)}`,
        );
      }
      this.added.push(t);
      this.addedIds.push(id);
      this.addedById.set(id, t);
      this.addedByContent.set(t.content, id);
      n++;
    }
    this.rawMatcher = new TokenMatcher(this.added.filter((t) => !t.normalized || !this.normalizer));
    const norm = this.added.filter((t) => t.normalized && this.normalizer);
    this.normMatcher = norm.length ? new TokenMatcher(norm) : null;
    return n;
  }

  addSpecialTokens(tokens: AddedTokenInput[]): number {
    return this.addTokens(tokens, true);
  }

  // ---- encoding ----

  /** Tokens of one input string, before truncation and the template. */
  /**
   * Tokens of one input string, before truncation and the template. With `limit`, words stop being added
   * once `limit` tokens exist (whole words only), as HF does; `fromLeft` keeps the last words instead.
   */
  private tokenizeSeq(
    text: string,
    unit: OffsetUnit,
    limit = Number.POSITIVE_INFINITY,
    fromLeft = false,
  ): Seq {
    const ids: number[] = [];
    const tokens: string[] = [];
    const offsets: [number, number][] = [];
    const pieces: number[] = [];
    this.rawMatcher.split(text, 0, text.length, pieces);
    const words: number[] = [];
    const sub: number[] = [];
    const wordStarts: number[] = [];
    const stop = fromLeft ? Number.POSITIVE_INFINITY : limit;
    for (let p = 0; p < pieces.length && ids.length < stop; p += 3) {
      const s = pieces[p]!;
      const e = pieces[p + 1]!;
      const k = pieces[p + 2]!;
      if (k >= 0) {
        wordStarts.push(ids.length);
        const t = this.rawMatcher.tokens[k]!;
        ids.push(this.addedByContent.get(t.content)!);
        tokens.push(t.content);
        offsets.push(strippedSpan(text, s, e, t));
        continue;
      }
      const n: Normalized = this.normalizer
        ? this.normalizer.normalize(text, s, e)
        : identity(text.slice(s, e), s);
      sub.length = 0;
      if (this.normMatcher) this.normMatcher.split(n.text, 0, n.text.length, sub);
      else sub.push(0, n.text.length, -1);
      for (let q = 0; q < sub.length && ids.length < stop; q += 3) {
        const ss = sub[q]!;
        const se = sub[q + 1]!;
        const sk = sub[q + 2]!;
        if (ss === se) continue;
        if (sk >= 0) {
          wordStarts.push(ids.length);
          const t = this.normMatcher!.tokens[sk]!;
          ids.push(this.addedByContent.get(t.content)!);
          tokens.push(t.content);
          // The whitespace an lstrip/rstrip token swallowed is not part of its span (HF).
          const [ts, te] = strippedSpan(n.text, ss, se, t);
          offsets.push(this.orig(n, ts, te));
          continue;
        }
        const raw = ss === 0 && se === n.text.length ? n.text : n.text.slice(ss, se);
        // The prefix space sits before the piece: its offsets clamp to the piece's first character.
        const pre = this.addPrefixSpace && raw[0] !== ' ' ? 1 : 0;
        const piece = pre ? ` ${raw}` : raw;
        words.length = 0;
        preTokenize(this.preTokenizer, piece, words);
        for (let w = 0; w < words.length && ids.length < stop; w += 2) {
          const ws = words[w]!;
          const we = words[w + 1]!;
          wordStarts.push(ids.length);
          const r = this.model.tokenizeWord(piece.slice(ws, we));
          const vocab = this.model.vocab.idToToken;
          for (let j = 0; j < r.ids.length; j++) {
            const id = r.ids[j]!;
            ids.push(id);
            tokens.push(vocab[id]!);
            const a = Math.max(ws + r.offsets[2 * j]! - pre, 0);
            const b = Math.max(ws + r.offsets[2 * j + 1]! - pre, a);
            // A token of only the prefix space gets the first character's span, as HF aligns it there.
            offsets.push(this.orig(n, ss + a, b > a ? ss + b : ss + a + 1));
          }
        }
      }
    }
    if (fromLeft && ids.length > limit) {
      let w = wordStarts.length - 1;
      while (w > 0 && ids.length - wordStarts[w]! < limit) w--;
      const from = wordStarts[w]!;
      ids.splice(0, from);
      tokens.splice(0, from);
      offsets.splice(0, from);
    }
    if (this.trimOffsets) trimByteLevelOffsets(tokens, offsets, this.addPrefixSpace);
    if (unit === 'codepoint') toCodePoints(text, offsets);
    return { ids, tokens, offsets };
  }

  private orig(n: Normalized, s: number, e: number): [number, number] {
    if (n.origStart === null) return [n.base + s, n.base + e];
    return [n.origStart[s]!, n.origEnd![e - 1]!];
  }

  /** Encodes one string (or a pair): ids, type ids, masks, offsets; truncated and padded as configured. */
  encode(text: string, pair?: string | null, opts: EncodeOptions = {}): Encoding {
    assertText(text, 'encode: text');
    if (pair !== undefined && pair !== null) assertText(pair, 'encode: pair');
    const unit = opts.offsetUnit ?? this.offsetUnit;
    const addSpecial = opts.addSpecialTokens ?? true;
    const template = addSpecial ? this.template : null;
    const trunc = opts.truncation === undefined ? this.truncation : opts.truncation;
    // HF stops tokenizing a sequence once it has maxLength tokens (whole words), before truncating pairs.
    const limit = trunc ? trunc.maxLength : Number.POSITIVE_INFINITY;
    const left = trunc?.direction === 'left';
    const a = this.tokenizeSeq(text, unit, limit, left);
    const b = pair === undefined || pair === null ? null : this.tokenizeSeq(pair, unit, limit, left);
    if (trunc) {
      if (!Number.isInteger(trunc.maxLength) || trunc.maxLength < 0) {
        throw invalidInput(`truncation.maxLength must be a non-negative integer, got ${trunc.maxLength}`);
      }
      const special = countSpecial(template, b !== null);
      if (trunc.maxLength < special) {
        throw new TokenizerError(
          'MAX_LENGTH_TOO_SMALL',
          `truncation.maxLength ${trunc.maxLength} is smaller than the ${special} special tokens the template adds`,
        );
      }
      truncate(a, b, trunc.maxLength - special, trunc);
    }
    const e = applyTemplate(template, a, b, (t) => this.specialId(t));
    const padding = opts.padding === undefined ? this.padding : opts.padding;
    if (padding && padding.length !== undefined) this.padTo(e, padding.length, padding);
    return e;
  }

  /** Encodes many inputs; with padding, every encoding gets the same length (the longest, or padding.length). */
  encodeBatch(inputs: EncodeInput[], opts: EncodeOptions = {}): Encoding[] {
    if (!Array.isArray(inputs))
      throw invalidInput(`encodeBatch: inputs must be an array, got ${typeof inputs}`);
    const padding = opts.padding === undefined ? this.padding : opts.padding;
    const out = inputs.map((x, i) => {
      if (Array.isArray(x)) return this.encode(x[0], x[1], { ...opts, padding: null });
      if (typeof x !== 'string')
        throw invalidInput(`encodeBatch: input ${i} must be a string or [string, string], got ${typeof x}`);
      return this.encode(x, null, { ...opts, padding: null });
    });
    if (padding) {
      let longest = 0;
      for (const e of out) if (e.ids.length > longest) longest = e.ids.length;
      const len = padding.length ?? longest;
      for (const e of out) this.padTo(e, len, padding);
    }
    return out;
  }

  private padTo(e: Encoding, length: number, p: PaddingOptions): void {
    checkLength('padding.length', length, 0);
    let target = length;
    const m = p.padToMultipleOf;
    if (m !== undefined && m !== 0) checkLength('padding.padToMultipleOf', m, 1);
    if (m !== undefined && m !== 0 && target % m !== 0) target += m - (target % m);
    checkLength('the padded length', target, 0);
    const padToken = p.padToken ?? (p.padId !== undefined ? (this.idToToken(p.padId) ?? '[PAD]') : '[PAD]');
    const padId = p.padId ?? this.specialId(padToken);
    pad(e, target, padId, padToken, p.padTypeId ?? 0, p.direction === 'left');
  }

  // ---- decoding ----

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw invalidInput(
        `decode: ids must be an array of integers, got ${ids === null ? 'null' : typeof ids}`,
      );
    }
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const t = Number.isInteger(id) ? this.idToToken(id) : undefined;
      if (t === undefined)
        throw invalidInput(
          `decode: id ${id} at position ${i} is not in the vocabulary (size ${this.vocabSize})`,
        );
      if (opts.skipSpecialTokens && this.addedById.get(id)?.special) continue;
      tokens.push(t);
    }
    return this.decodeTokens(tokens);
  }

  decodeBatch(batch: ArrayLike<number>[], opts: DecodeOptions = {}): string[] {
    return Array.from(batch, (ids) => this.decode(ids, opts));
  }

  private decodeTokens(tokens: string[]): string {
    switch (this.decoder) {
      case 'byteLevel': {
        const bytes: number[] = [];
        for (const t of tokens) {
          const start = bytes.length;
          let ok = true;
          for (let i = 0; i < t.length; i++) {
            const b = CHAR_TO_BYTE.get(t[i]!);
            if (b === undefined) {
              ok = false;
              break;
            }
            bytes.push(b);
          }
          if (!ok) {
            bytes.length = start; // a token outside the byte alphabet (an added token) is its own UTF-8
            utf8Encode(t, bytes);
          }
        }
        return utf8Decode(bytes);
      }
      case 'wordpiece': {
        let out = '';
        tokens.forEach((t, i) => {
          let s = t;
          if (i > 0) s = s.startsWith('##') ? s.slice(2) : ` ${s}`;
          out += this.cleanup ? cleanupText(s) : s;
        });
        return out;
      }
      case 'char':
        return tokens.join('');
      default:
        return tokens.join(' ');
    }
  }
}

/** HF's WordPiece decoder cleanup, applied per token. */
function cleanupText(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

const SPACE_CHAR = BYTE_TO_CHAR[0x20]!;

/** HF ByteLevel process_offsets (add_prefix_space false): leading/trailing "Ġ" are not part of a token's span. */
/** An added token's span without the whitespace its lstrip/rstrip swallowed (HF's offsets). */
function strippedSpan(text: string, s: number, e: number, t: AddedToken): [number, number] {
  if (t.lstrip) while (s < e && /\s/.test(text[s]!)) s++;
  if (t.rstrip) while (e > s && /\s/.test(text[e - 1]!)) e--;
  return [s, e];
}

function trimByteLevelOffsets(tokens: string[], offsets: [number, number][], addPrefixSpace = false): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let lead = 0;
    while (lead < t.length && t[lead] === SPACE_CHAR) lead++;
    // HF keeps the one space it added in front of the first word (add_prefix_space) inside the offsets.
    if (addPrefixSpace && lead === 1 && (i === 0 || offsets[i]![0] === 0)) lead = 0;
    let trail = 0;
    while (trail < t.length && t[t.length - 1 - trail] === SPACE_CHAR) trail++;
    const o = offsets[i]!;
    if (lead > 0) o[0] = Math.min(o[0] + lead, o[1]);
    if (trail > 0 && o[1] >= trail) o[1] = Math.max(o[1] - trail, o[0]);
  }
}

/** UTF-16 offsets → code point offsets, exactly as HF's BytesToCharOffsetConverter (quirks included). */
function toCodePoints(text: string, offsets: [number, number][]): void {
  let astral = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      astral = true;
      break;
    }
  }
  const len = text.length;
  let map: Int32Array | null = null;
  if (astral) {
    map = new Int32Array(len + 1);
    let cp = 0;
    for (let i = 0; i < len; i++) {
      map[i] = cp;
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) map[++i] = cp;
      }
      cp++;
    }
    map[len] = cp;
  }
  for (const o of offsets) {
    if (o[0] >= len && len > 0) {
      // HF cannot convert a span starting at the end and reports it in UTF-8 bytes.
      const bytes = utf8Encode(text).length;
      o[0] = bytes + (o[0] - len);
      o[1] = bytes + (o[1] - len);
      continue;
    }
    if (map) {
      o[0] = map[o[0]]!;
      o[1] = map[o[1]]!;
    }
  }
}
