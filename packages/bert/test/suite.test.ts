import { defineBertSuite } from './bert.suite.js';

// The checks every backend runs (bert.webgpu.test.ts runs them on webgpu), here on cpu and wasm.
for (const backend of ['cpu', 'wasm'] as const) defineBertSuite(backend);
