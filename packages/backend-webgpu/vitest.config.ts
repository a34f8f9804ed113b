// Shared preset: normal vs WebGPU suite (TK_WEBGPU_SUITE=1), forks, timeouts. See /vitest.shared.ts.
export { default } from '../../vitest.shared';
