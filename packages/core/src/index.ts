export * from './errors.js';
export * from './module.js';
export * from './ops.js';
export * from './layers.js';
export * from './random.js';
export * from './backend.js';
