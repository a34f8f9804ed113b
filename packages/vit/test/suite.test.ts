import { defineViTSuite } from './vit.suite.js';

// The checks every backend runs (vit.webgpu.test.ts runs them on webgpu), here on cpu and wasm.
for (const backend of ['cpu', 'wasm'] as const) defineViTSuite(backend);
