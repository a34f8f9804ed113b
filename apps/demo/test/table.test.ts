import { describe, expect, it } from 'vitest';
import { DataError, detectDelimiter, parseDelimited, readLabelledTable, splitData } from '../src/table.js';

const problem = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return { problem: (e as DataError).problem, message: (e as Error).message, code: (e as DataError).code };
  }
  throw new Error('expected a DataError');
};

describe('parseDelimited', () => {
  it('reads quoted fields with delimiters, doubled quotes, newlines; \\r\\n; skips blank lines and a BOM', () => {
    const csv = '\ufefftext,label\r\n"a, b ""c""",pos\r\n\r\n"two\nlines",neg\nplain,neu';
    expect(parseDelimited(csv)).toEqual([
      { cells: ['text', 'label'], line: 1 },
      { cells: ['a, b "c"', 'pos'], line: 2 },
      { cells: ['two\nlines', 'neg'], line: 4 },
      { cells: ['plain', 'neu'], line: 6 },
    ]);
  });

  it('tabs', () => {
    expect(parseDelimited('x\ty\n"q\tr"\ts\n', '\t').map((r) => r.cells)).toEqual([
      ['x', 'y'],
      ['q\tr', 's'],
    ]);
    expect(detectDelimiter('text\tlabel\nhello, world\tpos')).toBe('\t');
    expect(detectDelimiter('text,label\n')).toBe(',');
    expect(detectDelimiter('a,b', 'f.tsv')).toBe('\t');
  });

  it('an unclosed quote names its line', () => {
    expect(problem(() => parseDelimited('text,label\n"open,pos\n'))).toMatchObject({
      problem: 'UNCLOSED_QUOTE',
      message: 'line 2: a quoted field is never closed',
    });
  });
});

describe('readLabelledTable', () => {
  it('header text,label: labels sorted with counts', () => {
    const d = readLabelledTable('text,label\ngood,pos\nbad,neg\nfine,pos\n', 'f.csv');
    expect(d.labels).toEqual(['neg', 'pos']);
    expect(d.counts).toEqual([1, 2]);
    expect(d.rows[0]).toEqual({ text: 'good', label: 'pos' });
    expect(d.hasHeader).toBe(true);
  });

  it('pairs, any column order, numeric labels sorted as numbers', () => {
    const d = readLabelledTable('label,text_pair,text\n10,b,a\n2,d,c\n', 'p.csv');
    expect(d.labels).toEqual(['2', '10']);
    expect(d.rows).toEqual([
      { text: 'a', pair: 'b', label: '10' },
      { text: 'c', pair: 'd', label: '2' },
    ]);
  });

  it('no header: 2 columns are text,label; 3 are text,text_pair,label; TSV', () => {
    expect(readLabelledTable('good\tpos\nbad\tneg\n', 'f.tsv').columns).toEqual({
      text: 'column 1',
      label: 'column 2',
    });
    const d = readLabelledTable('a,b,x\nc,d,y\n', 'f.csv');
    expect(d.hasHeader).toBe(false);
    expect(d.rows[1]).toEqual({ text: 'c', pair: 'd', label: 'y' });
  });

  it('a named label column', () => {
    const d = readLabelledTable('text,stars\ngood,5\nbad,1\n', 'f.csv', { labelColumn: 'stars' });
    expect(d.labels).toEqual(['1', '5']);
  });

  it.each([
    ['', {}, 'NO_ROWS', /f\.csv: no rows/],
    ['text,label\n', {}, 'NO_ROWS', /a header and no rows/],
    ['sentence_x,label\na,b\n', {}, 'MISSING_COLUMNS', /no text column; the header has sentence_x, label/],
    ['text,y\na,b\n', {}, 'MISSING_COLUMNS', /no label column/],
    ['one column\nb\n', {}, 'MISSING_COLUMNS', /no header row and 1 column on line 1/],
    [
      'text,label\na,b\n',
      { labelColumn: 'stars' },
      'UNKNOWN_COLUMN',
      /the label column 'stars' is not among the columns: text, label/,
    ],
    [
      'text,label\na,pos\nb,pos\n',
      {},
      'SINGLE_LABEL',
      /every one of the 2 rows has the label 'pos'; a classifier needs at least two labels/,
    ],
    [
      'text,label\na,pos\n,neg\nc,\nd,neg\n',
      {},
      'EMPTY_ROWS',
      /2 rows have an empty text or label \(lines 3, 4\)/,
    ],
    [
      'text,text_pair,label\na,,pos\nc,d,neg\n',
      {},
      'EMPTY_ROWS',
      /1 row has an empty text, text_pair or label \(line 2\)/,
    ],
  ])('%j → %s', (text, options, kind, message) => {
    const p = problem(() => readLabelledTable(text, 'f.csv', options));
    expect(p.problem).toBe(kind);
    expect(p.message).toMatch(message);
    expect(p.code).toBe('INVALID_ARGUMENT');
  });
});

describe('splitData', () => {
  it('seeded split, ids in label order, majority baseline from the training labels', () => {
    const rows = Array.from({ length: 50 }, (_, i) => `t${i},${i % 5 === 0 ? 'b' : 'a'}`);
    const d = readLabelledTable(`text,label\n${rows.join('\n')}`, 'f.csv');
    const s = splitData(d, 0.2, 3);
    expect(s.train).toHaveLength(40);
    expect(s.validation).toHaveLength(10);
    expect(s.labels).toEqual(['a', 'b']);
    expect(new Set([...s.train, ...s.validation].map((e) => e.text)).size).toBe(50);
    expect(s.majority.label).toBe('a');
    expect(s.majority.accuracy).toBe(s.validation.filter((e) => e.label === 0).length / 10);
    expect(splitData(d, 0.2, 3)).toEqual(s);
  });
});
