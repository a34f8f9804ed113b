let warned = false;

/** Says once per process why the kernels decline (a hook into TF.js's internals is missing). */
export function warnDecline(why: string): void {
  if (warned) return;
  warned = true;
  console.warn(`@transformer-kit/backend-webgpu: ${why}; its fused kernels decline and TF.js's ops run`);
}
