import { initBackend } from '@transformer-kit/core';
import { main } from './dist/cli.js';
