/**
 * Minimal ambient types for `jstat` (the package ships none): only what `src/stats.ts` uses.
 * The CommonJS module exports the `jStat` function object, which carries the distributions.
 */
declare module 'jstat' {
  interface StudentT {
    /** P(T <= x) for Student's t with `dof` degrees of freedom (NaN for infinite x). */
    cdf(x: number, dof: number): number;
  }
  const jStat: { readonly studentt: StudentT };
  export default jStat;
}
