export { BPE, type Merge } from './bpe.js';
export { CharModel } from './char.js';
export {
  bertTemplate,
  type Encoding,
  MAX_PADDED_LENGTH,
  type PaddingOptions,
  robertaTemplate,
  type Template,
  type TemplatePiece,
  type TruncationOptions,
  type TruncationStrategy,
} from './encoding.js';
export { TokenizerError, type TokenizerErrorCode } from './errors.js';
export { TOKENIZER_FILES, tokenizerFiles, tokenizerFromFiles } from './files.js';
export {
  mergesToTxt,
  parseMerges,
  parseVocabJson,
  parseVocabTxt,
  vocabToJson,
  vocabToTxt,
} from './loaders.js';
export { BertNormalizer, type BertNormalizerConfig } from './normalizer.js';
export { GPT2_PATTERN, type PreTokenizerKind } from './pretokenizers.js';
export type { AddedToken, AddedTokenInput } from './special-tokens.js';
export {
  type BpeTokenizerOptions,
  type DecodeOptions,
  type DecoderKind,
  type EncodeInput,
  type EncodeOptions,
  type OffsetUnit,
  Tokenizer,
  type TokenizerConfig,
  type WordPieceTokenizerOptions,
} from './tokenizer.js';
export { parseTokenizerJson, tokenizerFromJson, tokenizerToJson } from './tokenizer-json.js';
export {
  type TrainOptions,
  trainByteLevelBPE,
  trainChar,
  trainWordPiece,
  type WordPieceTrainOptions,
} from './train.js';
export { BYTE_TO_CHAR } from './unicode.js';
export { type Model, Vocab } from './vocab.js';
export { MAX_INPUT_CHARS_PER_WORD, WordPiece, type WordPieceConfig } from './wordpiece.js';
