/**
 * A Hub id typed into the page as a checkpoint source: core's HubRepo (the Cache API holds the files, so a
 * second visit reads them from disk), its download progress drawn in a <progress> and a line under it.
 * `?hubEndpoint=URL` points it at a mirror (HF_ENDPOINT's role in Node; the browser test's local Hub).
 */
import { type CheckpointSource, type DownloadProgress, isHubId, resolveSource } from '@transformer-kit/core';
import { UsageError } from '../src/io.js';
import type { Page } from './page.js';

export interface HubFile {
  file: string;
  bytes: number;
  cached: boolean;
}

/** The Hub repo `id`, reporting progress into `#${prefix}-hub-progress` / `-hub-status` and `files`. */
export async function hubSource(
  page: Page,
  prefix: string,
  id: string,
  files: HubFile[],
): Promise<CheckpointSource> {
  const repo = id.trim();
  if (!isHubId(repo))
    throw new UsageError(
      `${JSON.stringify(repo)} is not a Hub id ('name' or 'org/name', e.g. distilbert-base-uncased)`,
    );
  const bar = page.$<HTMLProgressElement>(`${prefix}-hub-progress`);
  const status = page.$(`${prefix}-hub-status`);
  bar.hidden = false;
  bar.removeAttribute('value');
  const endpoint = page.param('hubEndpoint');
  const onProgress = (p: DownloadProgress) => {
    if (p.total) bar.value = p.loaded / p.total;
    status.textContent = `${repo}/${p.file}: ${p.cached ? 'from the browser cache' : `${kb(p.loaded)}${p.total ? ` of ${kb(p.total)}` : ''}`}`;
    if (p.total !== undefined && p.loaded === p.total)
      files.push({ file: p.file, bytes: p.total, cached: p.cached === true });
  };
  return resolveSource(repo, { ...(endpoint ? { endpoint } : {}), onProgress });
}

const kb = (n: number) => (n < 1e6 ? `${(n / 1024).toFixed(0)} kB` : `${(n / 1e6).toFixed(1)} MB`);
