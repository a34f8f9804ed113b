// The `sentiment` npm package (AFINN scorer) ships no types; this is the part the demo uses.
declare module 'sentiment' {
  export default class Sentiment {
    analyze(text: string): { score: number; comparative: number; positive: string[]; negative: string[] };
  }
}
