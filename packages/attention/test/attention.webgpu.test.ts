import { defineAttentionSuite } from './attention.suite.js';

// The WebGPU suite (TK_WEBGPU_SUITE=1): the shared attention checks, on webgpu.
defineAttentionSuite('webgpu');
