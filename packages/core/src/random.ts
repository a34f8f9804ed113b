/**
 * Seeded randomness. An Rng hands out integer seeds for TF.js's seeded ops (randomNormal, dropout,
 * multinomial) and uniform numbers for host-side choices, so a run with the same seed repeats exactly.
 * mulberry32: small, fast, and good enough for initialisation and sampling.
 */
export class Rng {
  #state: number;
  constructor(seed = 0) {
    this.#state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An independent generator at the same point of the stream. */
  clone(): Rng {
    const copy = new Rng();
    copy.#state = this.#state;
    return copy;
  }
  /** A fresh seed for a TF.js op. */
  nextSeed(): number {
    return Math.floor(this.next() * 2 ** 31);
  }
}
