import * as tf from '@tensorflow/tfjs';
import { WasmRuntime, type WasmRuntimeOptions, withSharedHeap } from '../src/index.js';

/**
 * TF.js's wasm backend started on a shared heap and a runtime attached to it, as a user of this package
 * alone does (core's initBackend('wasm') does the same, plus its BackendInfo and warnings).
 */
export async function startWasm(options?: WasmRuntimeOptions): Promise<WasmRuntime> {
  await import('@tensorflow/tfjs-backend-wasm');
  const [ok] = await withSharedHeap(async () => {
    if (!(await tf.setBackend('wasm'))) return false;
    await tf.ready();
    return true;
  });
  if (!ok) throw new Error('wasm backend did not start');
  const runtime = new WasmRuntime(options);
  if (!(await runtime.register())) throw new Error(runtime.unavailable);
  const why = runtime.guardHeap();
  if (why) throw new Error(why);
  return runtime;
}
