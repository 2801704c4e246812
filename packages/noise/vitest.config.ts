import { packageTestConfig } from '../../vitest.shared.ts';

/**
 * tfjs-core registers no gradient functions by itself (the `@tensorflow/tfjs` union and
 * tfjs-node do), and its `dist/register_all_gradients.js` is ESM inside a CommonJS package, so Node
 * cannot load it directly. Tests import it through Vite instead: inlining tfjs-core's ESM files
 * (everything but the `tf-core.node.js` bundle) lets Vite transform them. Kernel and gradient
 * registries and the engine are global in tfjs, so the registrations reach every copy of core.
 */
export default packageTestConfig({
  server: { deps: { inline: [/@tensorflow\/tfjs-core\/dist\/(?!tf-core)/] } },
  isolate: false,
});
