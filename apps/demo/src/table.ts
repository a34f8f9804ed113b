/**
 * Labelled data for fine-tuning: a CSV/TSV the user brings (text[, text_pair], label) or the demo's
 * sentiment set, its labels, a seeded train/validation split and the majority-class baseline. No IO, so the
 * CLI (reads the file) and the page (a dropped file) share it. Every problem is a DataError: one message
 * that names it (missing columns, an unknown column, a single label, empty rows) and where.
 */
import type { Example } from '@transformer-kit/bert';
import { InvalidArgumentError, listFirst } from '@transformer-kit/core';
import { type LabelledSentence, trainTestSplit } from './data.js';

export type DataProblem =
  | 'NO_ROWS'
  | 'MISSING_COLUMNS'
  | 'UNKNOWN_COLUMN'
  | 'SINGLE_LABEL'
  | 'EMPTY_ROWS'
  | 'UNCLOSED_QUOTE'
  | 'TOO_MANY_LABELS';

/**
 * The most labels a data set may have: a classifier head of 10,000 classes is already past what the demo's
 * few epochs can train, and a label column that is really free text (100k labels of one row each) is
 * refused with a clear message instead of a head nobody can train.
 */
export const MAX_LABELS = 10_000;

/** Bad data: `problem` says which kind (the CLI exits 2, the page shows the message). */
export class DataError extends InvalidArgumentError {
  constructor(
    readonly problem: DataProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface TableRecord {
  cells: string[];
  /** 1-based line where the record starts. */
  line: number;
}

/**
 * RFC 4180 records: fields separated by `delimiter`, optionally in double quotes (a quoted field may hold
 * the delimiter, newlines and "" for a quote). \r\n and \n both end a record; blank lines are skipped; a
 * leading byte-order mark is dropped.
 */
export function parseDelimited(text: string, delimiter = ','): TableRecord[] {
  const out: TableRecord[] = [];
  const s = text.startsWith('\ufeff') ? text.slice(1) : text;
  let cells: string[] = [];
  let cell = '';
  let line = 1;
  let start = 1;
  let quoted = false;
  let quoteLine = 0;
  const endRecord = () => {
    cells.push(cell);
    if (cells.length > 1 || cells[0]!.trim() !== '') out.push({ cells, line: start });
    cells = [];
    cell = '';
  };
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted) {
      if (ch === '"') {
        if (s[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true;
      quoteLine = line;
      cell = '';
    } else if (ch === delimiter) {
      cells.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else cell += ch;
  }
  if (quoted) throw new DataError('UNCLOSED_QUOTE', `line ${quoteLine}: a quoted field is never closed`);
  if (cell !== '' || cells.length) endRecord();
  return out;
}

/** Tab when the file is a .tsv or its first line has tabs and no more commas than tabs; else comma. */
export function detectDelimiter(text: string, name = ''): ',' | '\t' {
  if (/\.tsv$/i.test(name)) return '\t';
  if (/\.csv$/i.test(name)) return ',';
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  const tabs = first.split('\t').length - 1;
  const commas = first.split(',').length - 1;
  return tabs > 0 && tabs >= commas ? '\t' : ',';
}

export interface DataRow {
  text: string;
  pair?: string;
  label: string;
}

export interface LabelledData {
  rows: DataRow[];
  /** Labels found, sorted (numerically when all are numbers): the classifier's id order. */
  labels: string[];
  /** Rows per label, in `labels` order. */
  counts: number[];
  /** Where the columns came from: header names, or positions when the file has no header. */
  columns: { text: string; pair?: string; label: string };
  hasHeader: boolean;
  source: string;
}

export interface ColumnOptions {
  /** Column names to use (with a header row); default: text / sentence, text_pair / sentence2, label. */
  textColumn?: string;
  pairColumn?: string;
  labelColumn?: string;
}

const TEXT_NAMES = ['text', 'sentence', 'sentence1', 'text_a'];
const PAIR_NAMES = ['text_pair', 'sentence2', 'text_b', 'pair'];
const LABEL_NAMES = ['label', 'labels', 'class', 'category'];

/** Reads a CSV/TSV of labelled texts (see the module comment); `name` (a file name) picks the delimiter. */
export function readLabelledTable(text: string, name = 'data', options: ColumnOptions = {}): LabelledData {
  const records = parseDelimited(text, detectDelimiter(text, name));
  if (!records.length) throw new DataError('NO_ROWS', `${name}: no rows (the file is empty)`);
  const head = records[0]!.cells.map((c) => c.trim().toLowerCase());
  const known = [...TEXT_NAMES, ...PAIR_NAMES, ...LABEL_NAMES];
  const hasHeader = head.some((c) => known.includes(c)) || Object.values(options).some(Boolean);
  let at: { text: number; pair?: number; label: number };
  let columns: LabelledData['columns'];
  if (hasHeader) {
    const original = records[0]!.cells.map((c) => c.trim());
    const find = (what: string, explicit: string | undefined, names: string[]): number | undefined => {
      if (explicit !== undefined) {
        const i = head.indexOf(explicit.trim().toLowerCase());
        if (i < 0)
          throw new DataError(
            'UNKNOWN_COLUMN',
            `${name}: the ${what} column '${explicit}' is not among the columns: ${original.join(', ')}`,
          );
        return i;
      }
      const i = head.findIndex((c) => names.includes(c));
      return i < 0 ? undefined : i;
    };
    const t = find('text', options.textColumn, TEXT_NAMES);
    const p = find('pair', options.pairColumn, PAIR_NAMES);
    const l = find('label', options.labelColumn, LABEL_NAMES);
    if (t === undefined || l === undefined) {
      const missing = [t === undefined ? 'text' : '', l === undefined ? 'label' : ''].filter(Boolean);
      throw new DataError(
        'MISSING_COLUMNS',
        `${name}: no ${missing.join(' and no ')} column; the header has ${original.join(', ')}; expected text[, text_pair], label`,
      );
    }
    at = { text: t, label: l, ...(p !== undefined ? { pair: p } : {}) };
    columns = {
      text: original[t]!,
      label: original[l]!,
      ...(p !== undefined ? { pair: original[p]! } : {}),
    };
  } else {
    const n = records[0]!.cells.length;
    if (n === 2) at = { text: 0, label: 1 };
    else if (n === 3) at = { text: 0, pair: 1, label: 2 };
    else
      throw new DataError(
        'MISSING_COLUMNS',
        `${name}: no header row and ${n} column${n === 1 ? '' : 's'} on line 1; expected text,label or text,text_pair,label (or a header naming them)`,
      );
    columns = {
      text: 'column 1',
      label: `column ${at.label + 1}`,
      ...(at.pair !== undefined ? { pair: 'column 2' } : {}),
    };
  }
  const body = hasHeader ? records.slice(1) : records;
  if (!body.length) throw new DataError('NO_ROWS', `${name}: a header and no rows`);
  const empty: string[] = [];
  const rows: DataRow[] = [];
  for (const r of body) {
    const get = (i: number | undefined) => (i === undefined ? undefined : (r.cells[i] ?? '').trim());
    const row = { text: get(at.text)!, pair: get(at.pair), label: get(at.label)! };
    if (!row.text || !row.label || row.pair === '') {
      empty.push(String(r.line));
      continue;
    }
    rows.push(row.pair === undefined ? { text: row.text, label: row.label } : (row as DataRow));
  }
  if (empty.length)
    throw new DataError(
      'EMPTY_ROWS',
      `${name}: ${empty.length} row${empty.length === 1 ? ' has' : 's have'} an empty ${at.pair === undefined ? 'text or label' : 'text, text_pair or label'} (line${empty.length === 1 ? '' : 's'} ${listFirst(empty)})`,
    );
  return { ...withLabels(rows, name), columns, hasHeader, source: name };
}

function withLabels(rows: DataRow[], name: string): Pick<LabelledData, 'rows' | 'labels' | 'counts'> {
  const count = new Map<string, number>();
  for (const r of rows) count.set(r.label, (count.get(r.label) ?? 0) + 1);
  const found = [...count.keys()];
  const numeric = found.every((l) => l.trim() !== '' && Number.isFinite(Number(l)));
  const labels = found.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  if (labels.length > MAX_LABELS)
    throw new DataError(
      'TOO_MANY_LABELS',
      `${name}: ${labels.length} different labels (at most ${MAX_LABELS}); is the label column free text?`,
    );
  if (labels.length < 2)
    throw new DataError(
      'SINGLE_LABEL',
      `${name}: every one of the ${rows.length} rows has the label '${labels[0]}'; a classifier needs at least two labels`,
    );
  return { rows, labels, counts: labels.map((l) => count.get(l)!) };
}

/** The demo's sentiment sentences as labelled data (negative / positive). */
export function sentimentData(sentences: LabelledSentence[]): LabelledData {
  const rows = sentences.map((s) => ({ text: s.text, label: s.label === 1 ? 'positive' : 'negative' }));
  return {
    ...withLabels(rows, 'sentiment'),
    columns: { text: 'text', label: 'label' },
    hasHeader: true,
    source: `the demo's ${rows.length.toLocaleString('en-US')} sentiment sentences`,
  };
}

export interface DataSplit {
  labels: string[];
  train: Example[];
  validation: Example[];
  /** The most frequent training label and its accuracy on the validation rows (the bar to beat). */
  majority: { label: string; accuracy: number };
}

/** A seeded shuffle, the last `validationFraction` held out (at least one row each side). */
export function splitData(data: LabelledData, validationFraction = 0.2, seed = 0): DataSplit {
  if (data.rows.length < 2)
    throw new DataError('NO_ROWS', `${data.source}: ${data.rows.length} row; a split needs at least 2`);
  const id = new Map(data.labels.map((l, i) => [l, i]));
  const examples: Example[] = data.rows.map((r) => ({
    text: r.text,
    ...(r.pair !== undefined ? { pair: r.pair } : {}),
    label: id.get(r.label)!,
  }));
  const { train, test } = trainTestSplit(examples, validationFraction, seed);
  // One pass each, linear in rows + labels (a filter per label was rows × labels).
  const counts = new Array<number>(data.labels.length).fill(0);
  for (const e of train) counts[e.label]!++;
  let top = 0;
  for (let i = 1; i < counts.length; i++) if (counts[i]! > counts[top]!) top = i;
  let hits = 0;
  for (const e of test) if (e.label === top) hits++;
  return {
    labels: data.labels,
    train,
    validation: test,
    majority: { label: data.labels[top]!, accuracy: hits / test.length },
  };
}
