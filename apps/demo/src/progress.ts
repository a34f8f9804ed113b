/** A training progress bar (cli-progress): step, loss and tokens/s, redrawn in place on a terminal. */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Report that `step` steps are done, the latest loss and how many tokens the steps consumed so far (if counted). */
  update(step: number, loss: number, tokens?: number): void;
  /** A note shown after the counters until the next one (e.g. the latest validation accuracy). */
  note(text: string): void;
  stop(): void;
}

export function progressBar(
  label: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(22)} [{bar}] {value}/{total} | loss {loss} | {tps} tok/s | {duration_formatted}{note}`,
      barsize: 24,
      hideCursor: stream.isTTY ? true : null,
      stream,
      // Off a terminal (CI logs, pipes) print a line every few seconds instead of redrawing.
      noTTYOutput: !stream.isTTY,
      notTTYSchedule: 5000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = performance.now();
  bar.start(total, 0, { loss: '  -  ', tps: '-', note: '' });
  return {
    update(step, loss, tokens) {
      const seconds = (performance.now() - start) / 1000;
      bar.update(step, {
        loss: loss.toFixed(3),
        tps: seconds > 0 && tokens !== undefined ? Math.round(tokens / seconds).toLocaleString('en-US') : '-',
      });
    },
    note(text) {
      bar.update({ note: text ? ` | ${text}` : '' });
    },
    stop() {
      bar.stop();
    },
  };
}
