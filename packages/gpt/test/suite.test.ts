import { defineGptSuite } from './gpt.suite.js';

// The checks every backend runs (gpt.webgpu.test.ts runs them on webgpu), here on cpu and wasm.
for (const backend of ['cpu', 'wasm'] as const) defineGptSuite(backend);
