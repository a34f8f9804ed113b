import { defineViTSuite } from './vit.suite.js';

// The WebGPU suite (TK_WEBGPU_SUITE=1): the ViT / MAE checks every backend runs, on webgpu.
defineViTSuite('webgpu');
