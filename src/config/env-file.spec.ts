import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDotEnv } from './env-file';

describe(loadDotEnv.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'env-file-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fills variables from .env in the working directory (positive control)', () => {
    writeFileSync(path.join(dir, '.env'), '# comment\nPORT=4000\nADMIN_API_KEY="quoted value"\nEMPTY=\n');
    const env: Record<string, string | undefined> = {};
    expect(loadDotEnv(env, dir).sort()).toEqual(['ADMIN_API_KEY', 'EMPTY', 'PORT']);
    expect(env).toEqual({ PORT: '4000', ADMIN_API_KEY: 'quoted value', EMPTY: '' });
  });

  it('lets the real environment win over .env', () => {
    writeFileSync(path.join(dir, '.env'), 'PORT=4000\nHOST=0.0.0.0\n');
    const env: Record<string, string | undefined> = { PORT: '5000' };
    expect(loadDotEnv(env, dir)).toEqual(['HOST']);
    expect(env).toEqual({ PORT: '5000', HOST: '0.0.0.0' });
  });

  it('does nothing without a .env file', () => {
    const env: Record<string, string | undefined> = { PORT: '5000' };
    expect(loadDotEnv(env, dir)).toEqual([]);
    expect(env).toEqual({ PORT: '5000' });
  });
});
