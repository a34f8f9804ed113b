/*
 * TF.js's wasm heap made shareable in Node, so the runtime's worker threads read and write tensors where they lie.
 * TF.js starts only its non-threaded build in Node; that module defines its own memory, which no other thread
 * can see. While TF.js's module starts, WebAssembly.instantiate is wrapped: the module's bytes are changed to
 * import that memory instead ("env"."memory", shared, same limits), and the import object gets a shared
 * WebAssembly.Memory. Nothing else in the module changes (a lone memory keeps index 0 whether defined or
 * imported), and a shared memory works for a module that uses no atomics as a plain one does.
 */

const readLeb = (b: Uint8Array, at: number): [value: number, next: number] => {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = b[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
};

const leb = (value: number): number[] => {
  const out: number[] = [];
  do {
    const byte = value % 128;
    value = Math.floor(value / 128);
    out.push(value > 0 ? byte | 0x80 : byte);
  } while (value > 0);
  return out;
};

const IMPORT_SECTION = 2;
const MEMORY_SECTION = 5;
const MAX_PAGES = 65536;

/**
 * The module's bytes with its one defined memory turned into a shared import "env"."memory", and that
 * memory's limits in pages; undefined if the module does not define exactly one memory (or imports one).
 * Exported for tests.
 */
export function importSharedMemory(
  bytes: Uint8Array,
): { bytes: Uint8Array<ArrayBuffer>; initial: number; maximum: number } | undefined {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    return undefined;
  }
  const sections: { id: number; body: Uint8Array }[] = [];
  for (let at = 8; at < bytes.length; ) {
    const id = bytes[at]!;
    const [size, start] = readLeb(bytes, at + 1);
    sections.push({ id, body: bytes.subarray(start, start + size) });
    at = start + size;
  }
  const memory = sections.find((s) => s.id === MEMORY_SECTION);
  if (!memory) return undefined;
  const [count, limitsAt] = readLeb(memory.body, 0);
  const flags = memory.body[limitsAt]!;
  if (count !== 1 || flags > 1) return undefined;
  const [initial, maxAt] = readLeb(memory.body, limitsAt + 1);
  const maximum = flags === 1 ? readLeb(memory.body, maxAt)[0] : MAX_PAGES;
  const imports = sections.find((s) => s.id === IMPORT_SECTION);
  const [importCount, entriesAt] = imports ? readLeb(imports.body, 0) : [0, 0];
  const name = (s: string) => [s.length, ...new TextEncoder().encode(s)];
  const entry = [...name('env'), ...name('memory'), 0x02, 0x03, ...leb(initial), ...leb(maximum)];
  const importBody = [...leb(importCount + 1), ...(imports?.body.subarray(entriesAt) ?? []), ...entry];
  const out: number[] = [...bytes.subarray(0, 8)];
  const emit = (id: number, body: ArrayLike<number>) => {
    // bounded-spread: a LEB128 length is at most 5 bytes.
    out.push(id, ...leb(body.length));
    for (let i = 0; i < body.length; i++) out.push(body[i]!);
  };
  let placed = false;
  for (const s of sections) {
    // Sections other than custom ones (id 0) keep their order; the import section comes before any >= 3.
    if (!placed && (s.id === IMPORT_SECTION || (s.id !== 0 && s.id > IMPORT_SECTION))) {
      emit(IMPORT_SECTION, importBody);
      placed = true;
    }
    if (s.id === IMPORT_SECTION || s.id === MEMORY_SECTION) continue;
    emit(s.id, s.body);
  }
  return { bytes: Uint8Array.from(out), initial, maximum };
}

type Instantiate = typeof WebAssembly.instantiate;

/**
 * Runs `start` (TF.js's wasm backend starting) with WebAssembly.instantiate giving a module that defines its
 * memory a shared one instead (see above); restored after, also if the start fails. Returns start's result
 * and the shared memory, if a module got one.
 */
export async function withSharedHeap<T>(
  start: () => Promise<T>,
): Promise<[T, WebAssembly.Memory | undefined]> {
  const original = WebAssembly.instantiate;
  let shared: WebAssembly.Memory | undefined;
  const wrapped = function (this: unknown, source: unknown, imports?: WebAssembly.Imports) {
    const env = imports?.env as Record<string, unknown> | undefined;
    const bytes =
      source instanceof ArrayBuffer
        ? new Uint8Array(source)
        : ArrayBuffer.isView(source)
          ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
          : undefined;
    const changed = !shared && env && !('memory' in env) && bytes ? importSharedMemory(bytes) : undefined;
    if (!changed) return (original as (...a: unknown[]) => unknown).call(this, source, imports);
    shared = new WebAssembly.Memory({ initial: changed.initial, maximum: changed.maximum, shared: true });
    env!.memory = shared;
    return original.call(WebAssembly, changed.bytes, imports);
  } as Instantiate;
  WebAssembly.instantiate = wrapped;
  try {
    return [await start(), shared];
  } finally {
    if (WebAssembly.instantiate === wrapped) WebAssembly.instantiate = original;
  }
}
