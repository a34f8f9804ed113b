/**
 * What the demo's process does before any model code runs: the V8 flag for fused multiply-add on Node 20,
 * and keeping Dawn's native notices out of the output when WebGPU is chosen explicitly.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { isatty, WriteStream } from 'node:tty';
import { setFlagsFromString } from 'node:v8';

/**
 * Node 20 ships relaxed SIMD (core's fused multiply-add kernels) behind a flag; Node >= 22 has it on. The
 * demo is an app and turns it on for itself (the packages never set V8 flags). Call before any wasm compiles.
 */
export function enableRelaxedSimd(): void {
  if (Number(process.versions.node.split('.')[0]) < 22)
    setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/** The child's stderr for our own output (errors, progress bar) when fd 2 carries only Dawn's: fd 3. */
const OWN_STDERR_ENV = 'TK_DEMO_OWN_STDERR_FD';

/**
 * Dawn (the `webgpu` package) prints notices from native code straight to fd 2 when it opens an adapter in
 * this process ("Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced ...", "Couldn't
 * load Vulkan" and its stack line). Nothing in JavaScript can catch those, so an explicit `--backend
 * webgpu` without `--verbose` reruns the CLI as a child whose fd 2 is a pipe filtered here; the child's own
 * output goes to fd 3, the real stderr (a TTY keeps the progress bar).
 */
export function wantsDawnFilter(
  options: { backend?: string; verbose: boolean },
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env[OWN_STDERR_ENV] !== undefined || options.verbose) return false;
  return (options.backend ?? env.TK_BACKEND) === 'webgpu';
}

/**
 * A line filter (stateful across chunks) that drops Dawn's notices: a "Warning: " line and the indented
 * source-location and blank lines after it. Everything else passes unchanged.
 */
export function dawnNoticeFilter(): (line: string) => boolean {
  let inNotice = false;
  return (line) => {
    if (line.startsWith('Warning: ')) inNotice = true;
    else if (!(inNotice && (line.trim() === '' || /^\s+at /.test(line)))) inNotice = false;
    return !inNotice;
  };
}

/** Runs this CLI again as a child with Dawn's fd 2 filtered; resolves to its exit code. */
export function runWithDawnFilter(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, [OWN_STDERR_ENV]: '3' },
    stdio: ['inherit', 'inherit', 'pipe', process.stderr],
  });
  // Ctrl-C reaches the child too (same process group); this process waits for it to finish.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  const keep = dawnNoticeFilter();
  let pending = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const l of lines) if (keep(l)) process.stderr.write(`${l}\n`);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      if (pending && keep(pending)) process.stderr.write(`${pending}\n`);
      process.off('SIGINT', ignore);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** In the filtered child: our own stderr output goes to fd 3 (the parent's stderr), not the filtered fd 2. */
export function useOwnStderr(): void {
  const fd = Number(process.env[OWN_STDERR_ENV]);
  if (!Number.isInteger(fd)) return;
  const stream = isatty(fd) ? new WriteStream(fd) : createWriteStream('', { fd });
  Object.defineProperty(process, 'stderr', { value: stream, configurable: true });
}
