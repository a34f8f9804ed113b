// bench/scale-browser.bench.mjs calls window.scale.run(cfg, spec, workload) once per fresh page.
import { runWorkload } from '../scale-workloads.mjs';

window.scale = { run: runWorkload, ready: true };
