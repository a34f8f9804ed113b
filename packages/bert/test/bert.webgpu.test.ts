import { defineBertSuite } from './bert.suite.js';

// The WebGPU suite (TK_WEBGPU_SUITE=1): the BERT checks every backend runs, on webgpu.
defineBertSuite('webgpu');
