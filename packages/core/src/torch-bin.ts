import { CheckpointError } from './errors.js';
import { decodeTensorBytes, type RawTensor } from './safetensors.js';

/*
 * PyTorch's checkpoint format (torch.save since 1.6, what transformers writes as pytorch_model.bin): a zip
 * of stored (uncompressed) entries, {prefix}/data.pkl a pickle of the state dict whose tensors point at
 * {prefix}/data/{key} by a persistent id. The pickle is never executed: a small stack machine reads it and
 * accepts only the globals torch writes for tensors (an allow-list); any other global is a CheckpointError
 * naming it, so a malicious file cannot run code.
 */

export const PT_WEIGHTS_FILE = 'pytorch_model.bin';
export const PT_WEIGHTS_INDEX_FILE = 'pytorch_model.bin.index.json';

/** Storage classes → safetensors dtype names (what decodeTensorBytes reads). */
const STORAGE_DTYPES: Record<string, [dtype: string, bytes: number]> = {
  FloatStorage: ['F32', 4],
  DoubleStorage: ['F64', 8],
  HalfStorage: ['F16', 2],
  BFloat16Storage: ['BF16', 2],
  LongStorage: ['I64', 8],
  IntStorage: ['I32', 4],
  ShortStorage: ['I16', 2],
  CharStorage: ['I8', 1],
  ByteStorage: ['U8', 1],
  BoolStorage: ['BOOL', 1],
};

/** The globals a state dict may name; everything else is refused. */
const ALLOWED = new Set([
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'collections.OrderedDict',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const ZIP_EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP_CENTRAL = 0x02014b50;
const ZIP_LOCAL = 0x04034b50;
const ZIP64_EXTRA = 0x0001;
const U32_MAX = 0xffffffff;

/**
 * The entries of a zip whose members are stored uncompressed (torch.save's zips), ZIP64 included: torch
 * (miniz) writes the ZIP64 end record and locator into every archive, and 64-bit sizes and offsets in each
 * entry's 0x0001 extra field once they pass 4 GiB. Every offset and size is checked against the file, so a
 * truncated or hostile archive is a CheckpointError, never a read past the end.
 */
export function readStoredZip(bytes: Uint8Array, source = 'zip'): Map<string, ZipEntry> {
  const fail = (msg: string): never => {
    throw new CheckpointError(`${source}: ${msg}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number, what: string): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(bytes.length)) fail(`ZIP64 ${what} ${v} is past the end of the ${bytes.length}-byte file`);
    return Number(v);
  };
  // End of central directory: the last 0x06054b50 within 64 KiB + 22 bytes of the end.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65_535); i--) {
    if (view.getUint32(i, true) === ZIP_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('not a zip file (no end-of-central-directory record): not a PyTorch checkpoint');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  // Where the central directory must end: the ZIP64 end record when there is one, else the classic one.
  let cdLimit = eocd;
  const locator = eocd - 20;
  if (locator >= 0 && view.getUint32(locator, true) === ZIP64_LOCATOR) {
    const record = u64(locator + 8, 'end-of-central-directory offset');
    if (record + 56 > locator || view.getUint32(record, true) !== ZIP64_EOCD)
      fail('the ZIP64 end-of-central-directory record is missing or corrupt (truncated file?)');
    count = u64(record + 32, 'entry count');
    cdSize = u64(record + 40, 'central directory size');
    cdOffset = u64(record + 48, 'central directory offset');
    cdLimit = record;
  } else if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
    fail('the end-of-central-directory record defers to a ZIP64 record that is not there (truncated file?)');
  }
  if (cdOffset + cdSize > cdLimit)
    fail(`the central directory (${cdSize} bytes at ${cdOffset}) runs past its end record (truncated file?)`);
  // Each entry takes at least 46 bytes: a hostile count cannot make this loop long.
  if (count * 46 > cdSize) fail(`${count} entries cannot fit a ${cdSize}-byte central directory`);
  const out = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  const cdEnd = cdOffset + cdSize;
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cdEnd || view.getUint32(p, true) !== ZIP_CENTRAL)
      fail(`central directory entry ${n} is corrupt`);
    const method = view.getUint16(p + 10, true);
    let size = view.getUint32(p + 20, true);
    let usize = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let local = view.getUint32(p + 42, true);
    const extraAt = p + 46 + nameLen;
    if (extraAt + extraLen + commentLen > cdEnd) fail(`central directory entry ${n} runs past the directory`);
    const name = decoder.decode(bytes.subarray(p + 46, extraAt));
    if (usize === U32_MAX || size === U32_MAX || local === U32_MAX) {
      // The ZIP64 extra field holds, in this order, exactly the values whose 32-bit field is 0xFFFFFFFF.
      let at = zip64Extra(view, extraAt, extraLen);
      if (at < 0) fail(`entry ${name}: its ZIP64 sizes have no ZIP64 extra field`);
      const end = at + view.getUint16(at - 2, true);
      const next = (what: string) => {
        if (at + 8 > end) fail(`entry ${name}: the ZIP64 extra field is too short for its ${what}`);
        at += 8;
        return u64(at - 8, `${what} of ${name}`);
      };
      if (usize === U32_MAX) usize = next('size');
      if (size === U32_MAX) size = next('stored size');
      if (local === U32_MAX) local = next('header offset');
    }
    if (method !== 0)
      fail(`entry ${name} is compressed (method ${method}); torch.save stores entries uncompressed`);
    if (size !== usize) fail(`entry ${name}: stored size ${size} differs from its size ${usize}`);
    if (local + 30 > bytes.length || view.getUint32(local, true) !== ZIP_LOCAL)
      fail(`entry ${name}: bad local header`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + size > bytes.length) fail(`entry ${name} runs past the end of the file (truncated?)`);
    out.set(name, { name, data: bytes.subarray(start, start + size) });
    p = extraAt + extraLen + commentLen;
  }
  return out;
}

/** Offset of the ZIP64 extra field's data within an entry's extra block, or -1. */
function zip64Extra(view: DataView, at: number, length: number): number {
  const end = at + length;
  while (at + 4 <= end) {
    const id = view.getUint16(at, true);
    const size = view.getUint16(at + 2, true);
    if (at + 4 + size > end) return -1;
    if (id === ZIP64_EXTRA) return at + 4;
    at += 4 + size;
  }
  return -1;
}

type Value = unknown;
class Global {
  constructor(readonly name: string) {}
}
class Mark {}
const MARK = new Mark();
interface StorageRef {
  dtype: string;
  itemSize: number;
  key: string;
  numel: number;
}
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** Runs a pickle of a state dict on a stack machine that only builds data; returns name → tensor reference. */
function unpickle(pkl: Uint8Array, source: string): Record<string, TensorRef> {
  const fail = (msg: string): never => {
    throw new CheckpointError(`${source}: ${msg}`);
  };
  const view = new DataView(pkl.buffer, pkl.byteOffset, pkl.byteLength);
  const text = new TextDecoder();
  const stack: Value[] = [];
  const memo = new Map<number, Value>();
  let pos = 0;
  const take = (n: number): number => {
    if (pos + n > pkl.length) fail('pickle ends early');
    pos += n;
    return pos - n;
  };
  const u8 = () => pkl[take(1)]!;
  const u16 = () => view.getUint16(take(2), true);
  const u32 = () => view.getUint32(take(4), true);
  const i32 = () => view.getInt32(take(4), true);
  const str = (n: number) => {
    const at = take(n);
    return text.decode(pkl.subarray(at, at + n));
  };
  const line = () => {
    const end = pkl.indexOf(0x0a, pos);
    if (end < 0) fail('pickle ends early');
    const s = text.decode(pkl.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => (stack.length ? stack.pop() : fail('pickle stack underflow'));
  const popMark = (): Value[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) fail('pickle has no MARK');
    const items = stack.slice(i + 1);
    stack.length = i;
    return items;
  };
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    if (!ALLOWED.has(full))
      fail(
        `refuses the pickle global '${full}': only PyTorch's tensor-rebuild globals are allowed (this file may run code in Python; never load it there either)`,
      );
    return new Global(full);
  };
  const setItems = (dict: Value, items: Value[]) => {
    if (!(dict instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<Value, Value>).set(items[i], items[i + 1]);
  };
  const ints = (v: Value, what: string): number[] => {
    if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= 0))
      fail(`${what} is not a tuple of sizes`);
    return v as number[];
  };
  const call = (fn: Value, args: Value): Value => {
    if (!(fn instanceof Global) || !Array.isArray(args))
      return fail('REDUCE of something that is not an allowed global');
    switch (fn.name) {
      case 'collections.OrderedDict':
        return new Map();
      case 'torch._utils._rebuild_parameter':
        return args[0];
      case 'torch._utils._rebuild_tensor_v2': {
        const [storage, offset, size, stride] = args;
        if (!storage || typeof storage !== 'object' || !('key' in storage))
          fail('_rebuild_tensor_v2 without a storage');
        if (!Number.isSafeInteger(offset)) fail('_rebuild_tensor_v2: bad storage offset');
        return new TensorRef(
          storage as StorageRef,
          offset as number,
          ints(size, 'size'),
          ints(stride, 'stride'),
        );
      }
      default:
        return fail(`cannot call '${fn.name}'`);
    }
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        take(8);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = u8();
        take(n);
        pos -= n;
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pkl[pos + i]!);
        if (n > 0 && pkl[pos + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER))
          fail('integer too large');
        stack.push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(take(8), false));
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x71: // BINPUT
        memo.set(u8(), stack[stack.length - 1]);
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), stack[stack.length - 1]);
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack[stack.length - 1]);
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo ${k} is not set`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: // GLOBAL "module\nname\n"
        stack.push(global(line(), line()));
        break;
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x51: {
        // BINPERSID: ('storage', storage type, key, location, numel)
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof Global))
          fail('a persistent id that is not a tensor storage');
        const kind = (pid as [string, Global])[1].name.replace(/^torch\./, '');
        const [dtype, itemSize] = STORAGE_DTYPES[kind] ?? fail(`storage type ${kind} is not supported`);
        const [, , key, , numel] = pid as [string, Global, unknown, unknown, unknown];
        if (typeof key !== 'string' || !/^\w+$/.test(key) || !Number.isSafeInteger(numel))
          fail('a storage reference with a bad key or size');
        stack.push({ dtype, itemSize, key: key as string, numel: numel as number } satisfies StorageRef);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: // BUILD: state of an OrderedDict (its _metadata): dropped
        pop();
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(stack[stack.length - 1], [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(stack[stack.length - 1], items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        (stack[stack.length - 1] as Value[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const list = stack[stack.length - 1] as Value[];
        for (const item of popMark()) list.push(item);
        break;
      }
      case 0x2e: {
        // STOP
        const root = pop();
        if (!(root instanceof Map)) return fail('the pickle is not a state dict (a dict of tensors)');
        const out: Record<string, TensorRef> = {};
        for (const [k, v] of root as Map<Value, Value>) {
          if (typeof k !== 'string') fail('a state dict key that is not a string');
          if (v instanceof TensorRef) out[k as string] = v;
          else fail(`'${String(k)}' is not a tensor`);
        }
        return out;
      }
      default:
        fail(`pickle opcode 0x${op.toString(16)} is not supported in a state dict`);
    }
  }
}

/** Reads a torch.save zip of a state dict: name → {dtype, shape, data} (float32 or int32, as safetensors). */
export function readPytorchBin(bytes: Uint8Array, source = PT_WEIGHTS_FILE): Map<string, RawTensor> {
  const zip = readStoredZip(bytes, source);
  const pklName = [...zip.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName)
    throw new CheckpointError(
      `${source}: no <name>/data.pkl: not a PyTorch zip checkpoint (the legacy format is not supported)`,
    );
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const refs = unpickle(zip.get(pklName)!.data, source);
  const out = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries(refs)) {
    const entry = zip.get(`${prefix}data/${t.storage.key}`);
    if (!entry) throw new CheckpointError(`${source}: tensor '${name}': storage ${t.storage.key} is missing`);
    const { itemSize, dtype } = t.storage;
    if (entry.data.length !== t.storage.numel * itemSize)
      throw new CheckpointError(
        `${source}: storage ${t.storage.key} has ${entry.data.length} bytes, ${t.storage.numel * itemSize} expected`,
      );
    const count = t.shape.reduce((a, b) => a * b, 1);
    let expectStride = 1;
    let contiguous = true;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      if (t.shape[d]! > 1 && t.stride[d] !== expectStride) contiguous = false;
      expectStride *= t.shape[d]!;
    }
    if (contiguous && t.offset + count <= t.storage.numel) {
      const slice = entry.data.subarray(t.offset * itemSize, (t.offset + count) * itemSize);
      out.set(name, {
        dtype,
        shape: t.shape,
        data: decodeTensorBytes(slice, dtype, `${source}: tensor '${name}'`),
      });
      continue;
    }
    // Gather the elements by stride (a view may be non-contiguous or offset into a shared storage).
    const bytesOut = new Uint8Array(count * itemSize);
    const idx = new Array<number>(t.shape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let at = t.offset;
      for (let d = 0; d < idx.length; d++) at += idx[d]! * t.stride[d]!;
      if (at < 0 || at >= t.storage.numel)
        throw new CheckpointError(`${source}: tensor '${name}' reads outside its storage`);
      bytesOut.set(entry.data.subarray(at * itemSize, (at + 1) * itemSize), i * itemSize);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d]! < t.shape[d]!) break;
        idx[d] = 0;
      }
    }
    out.set(name, {
      dtype,
      shape: t.shape,
      data: decodeTensorBytes(bytesOut, dtype, `${source}: tensor '${name}'`),
    });
  }
  return out;
}
