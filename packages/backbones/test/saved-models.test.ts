import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Pier,
  Prm,
  decodeReranker,
  disposeBatch,
  loadReranker,
  setPrmFastInference,
  toBatchTensors,
} from '../src/index';
import { expectClose, useBackend } from './helpers';

// Files written by an earlier version of the package (before PRM and Pier shared a base class):
// small PRM (concat) and Pier (add) models with perturbed weights, encoded with encodeReranker.
// They must keep loading, with the same parameters and the same scores (computed then on the cpu
// backend through the tfjs path).

const fixture = (name: string) =>
  new Uint8Array(readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))));

const batch = {
  user: Int32Array.from([1, 0]),
  history: Int32Array.from([10, 3, 4, 10, 10, 7]),
  items: Int32Array.from([1, 2, 5, 9, 0, 6, 3, 8]),
  scores: Float32Array.from([0.9, 0.7, 0.4, 0.1, 0.8, 0.5, 0.3, 0.2]),
};

const expected = {
  prm: [
    -0.6267114281654358, -0.5005397200584412, -0.41099298000335693, -0.11456675827503204,
    -0.3118862509727478, -0.1913311928510666, -0.12375304102897644, -0.10479274392127991,
  ],
  pier: [
    2.769522190093994, 2.727156162261963, 2.7795276641845703, 2.8180058002471924, 2.502023220062256,
    2.4620790481567383, 2.470715045928955, 2.4598960876464844,
  ],
};

afterEach(() => {
  setPrmFastInference(true);
});

describe('models saved by version 0.0.0', () => {
  for (const name of ['prm', 'pier'] as const) {
    it(`${name}: loads, names and orders its weights as before, scores as before`, async () => {
      await useBackend('cpu');
      setPrmFastInference(false);
      const data = decodeReranker(fixture(`${name}-v1.dnrr`));
      const model = loadReranker(data);
      expect(model).toBeInstanceOf(name === 'prm' ? Prm : Pier);
      // the same parameter names in the same order as a model built now from the config
      expect(model.getWeights().map((w) => w.name)).toEqual(data.weights.map((w) => w.name));
      const b = toBatchTensors(batch);
      const s = model.score(b, { training: false });
      expectClose(s.dataSync(), expected[name], 1e-5, `${name} scores`);
      s.dispose();
      disposeBatch(b);
      model.dispose();
    });
  }
});
