import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  backendCandidates,
  describeBackend,
  selectBackend,
  type ModuleLoader,
} from '../src/backend';

/** A loader that fails for the given packages, as when an optional dependency was not installed. */
function loaderWithout(missing: readonly string[]): { load: ModuleLoader; tried: string[] } {
  const tried: string[] = [];
  const load: ModuleLoader = async (specifier) => {
    tried.push(specifier);
    if (missing.includes(specifier)) {
      throw new Error(`Cannot find package '${specifier}' imported from dnr-bench`);
    }
    return import(specifier);
  };
  return { load, tried };
}

const NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

describe('selectBackend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('auto tries tfjs-node-gpu, then tfjs-node, then falls back to wasm and says so', async () => {
    const { load, tried } = loaderWithout(NODE_PACKAGES);
    const info = await selectBackend('auto', load);
    expect(tried).toEqual([...NODE_PACKAGES, '@tensorflow/tfjs-backend-wasm']);
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.gpu).toBe(false);
    expect(info.skipped).toHaveLength(2);
    expect(info.skipped[0]).toMatch(/tfjs-node-gpu: Cannot find package/);
    expect(describeBackend(info)).toMatch(
      /^backend: wasm \(@tensorflow\/tfjs-backend-wasm; skipped/,
    );
  });

  it('an explicit backend that cannot load fails with the install command', async () => {
    const { load } = loaderWithout(NODE_PACKAGES);
    const error = await selectBackend('tensorflow', load).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    const message = (error as Error).message;
    expect(message).toMatch(/Backend 'tensorflow' is not available/);
    expect(message).toMatch(/npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
    expect(message).toMatch(/npm install @tensorflow\/tfjs-node@4\.22\.0/);
    expect(message).toMatch(/--backend wasm/);
  });

  it('a package that loads but cannot activate its backend is skipped', async () => {
    // The module loads, but no 'tensorflow' backend gets registered by it.
    const load: ModuleLoader = async () => ({});
    const error = await selectBackend('tensorflow', load).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/tfjs-node-gpu: /);
  });

  it('cpu and wasm load directly', async () => {
    expect((await selectBackend('cpu')).backend).toBe('cpu');
    expect((await selectBackend('wasm')).backend).toBe('wasm');
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    expect(Array.from(await tf.matMul(x, x).data())).toEqual([7, 10, 15, 22]);
  });

  it('rejects unknown choices', async () => {
    await expect(selectBackend('gpu' as never)).rejects.toThrow(/--backend must be one of/);
  });

  it('orders candidates as documented', () => {
    expect(backendCandidates('auto').map((c) => c.provider)).toEqual([
      '@tensorflow/tfjs-node-gpu',
      '@tensorflow/tfjs-node',
      '@tensorflow/tfjs-backend-wasm',
    ]);
  });
});
