import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveBundle } from '@dnr/data';
import { CHECKPOINT_KIND, CheckpointError, loadCheckpoint, saveCheckpoint } from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'dnr-checkpoint-test-'));
const ckpt = {
  configHash: 'abc123',
  progress: { epoch: 2, history: [{ epoch: 1, loss: 0.5 }], bestValue: null },
  modelWeights: [
    { name: 'block0/w', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
    { name: 'b', shape: [1], data: Float32Array.of(-0.5) },
  ],
  bestWeights: null,
  objective: {
    arrays: [{ name: 'adam.0', shape: [], data: Float32Array.of(10) }],
    json: { lr: 0.001 },
  },
};

describe('checkpoints', () => {
  it('round-trip weights, best weights, objective state and progress', () => {
    const path = join(dir, 'a.bin');
    saveCheckpoint(path, ckpt);
    const back = loadCheckpoint(path, 'abc123');
    expect(back).toEqual(ckpt);
    const withBest = { ...ckpt, bestWeights: [ckpt.modelWeights[1]!] };
    saveCheckpoint(path, withBest);
    expect(loadCheckpoint(path).bestWeights).toEqual([ckpt.modelWeights[1]]);
  });

  it('names the problem: missing, other config, corrupt, not a checkpoint', () => {
    const path = join(dir, 'b.bin');
    saveCheckpoint(path, ckpt);
    const reason = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        return (e as CheckpointError).reason;
      }
      throw new Error('did not throw');
    };
    expect(reason(() => loadCheckpoint(join(dir, 'none.bin')))).toBe('missing');
    expect(reason(() => loadCheckpoint(path, 'other'))).toBe('config-mismatch');
    const other = join(dir, 'c.bin');
    saveBundle(other, { kind: 'rerank-dataset', arrays: {}, meta: {} });
    expect(() => loadCheckpoint(other)).toThrow(/unusable \(wrong-kind/);
    writeFileSync(other, 'not a checkpoint at all, just text that is long enough');
    expect(reason(() => loadCheckpoint(other))).toBe('corrupt');
    saveBundle(other, { kind: CHECKPOINT_KIND, arrays: {}, meta: { version: 99 } });
    expect(() => loadCheckpoint(other)).toThrow(/layout version 99/);
  });

  it('refuses weights whose data does not fill their shape', () => {
    const bad = {
      ...ckpt,
      modelWeights: [{ name: 'w', shape: [3], data: Float32Array.of(1, 2) }],
    };
    expect(() => saveCheckpoint(join(dir, 'd.bin'), bad)).toThrow(
      /'w' has 2 values for shape \[3\]/,
    );
  });
});
