/*
 * A minimal WebAssembly encoder for the engine's hand-written SIMD kernels (`simd-gemm.ts`,
 * `simd-bmm.ts`, `simd-ops.ts`): just enough opcodes, structured loops and one module layout
 * (functions of i32 parameters and no results over an imported memory `env.memory`), compiled
 * once per process. The bytes are built at run time: no files, no eval. Opcode numbers follow the
 * WebAssembly core and fixed-width SIMD specifications.
 */

/** A `WebAssembly.Memory` (typed here without the DOM library). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The part of the `WebAssembly` namespace the engine uses. */
export interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}

/** `globalThis.WebAssembly`, or undefined where there is none. */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
}

/** A sequence of instruction bytes. */
export type Code = number[];

/** Unsigned LEB128. */
export function uleb(n: number): Code {
  const out: Code = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): Code {
  const out: Code = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function f32Bytes(v: number): Code {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...b];
}

const simd = (opcode: number): Code => [0xfd, ...uleb(opcode)];
const memarg = (align: number, offset: number): Code => [align, ...uleb(offset)];

/** Instructions (stack machine; operands are pushed first). */
export const I = {
  get: (i: number): Code => [0x20, ...uleb(i)],
  set: (i: number): Code => [0x21, ...uleb(i)],
  tee: (i: number): Code => [0x22, ...uleb(i)],
  i32: (v: number): Code => [0x41, ...sleb(v)],
  f32: (v: number): Code => [0x43, ...f32Bytes(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  and: [0x71],
  shl: [0x74],
  ltS: [0x48],
  ltU: [0x49],
  eqz: [0x45],
  /** `loop` / `if` with no result, closed by `end`; `brIf(d)` branches to the d-th enclosing label. */
  loop: [0x03, 0x40],
  ifThen: [0x04, 0x40],
  end: [0x0b],
  brIf: (depth: number): Code => [0x0d, ...uleb(depth)],
  i32load: (offset = 0): Code => [0x28, ...memarg(2, offset)],
  f32load: (offset = 0): Code => [0x2a, ...memarg(2, offset)],
  f32store: (offset = 0): Code => [0x38, ...memarg(2, offset)],
  fadd: [0x92],
  fsub: [0x93],
  fmul: [0x94],
  fdiv: [0x95],
  fmax: [0x97],
  fsqrt: [0x91],
  fconvertI32: [0xb2],
  /** v128.load / store with the 16-byte alignment hint (unaligned addresses still work). */
  vload: (offset = 0): Code => [...simd(0x00), ...memarg(4, offset)],
  vstore: (offset = 0): Code => [...simd(0x0b), ...memarg(4, offset)],
  vsplat32: (offset = 0): Code => [...simd(0x09), ...memarg(2, offset)],
  vconst: (v: number): Code => [
    ...simd(0x0c),
    ...f32Bytes(v),
    ...f32Bytes(v),
    ...f32Bytes(v),
    ...f32Bytes(v),
  ],
  vconstI32: (v: number): Code => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    return [...simd(0x0c), ...b, ...b, ...b, ...b];
  },
  fsplat: simd(0x13),
  lane: (l: number): Code => [...simd(0x1f), l],
  vand: simd(0x4e),
  vge: simd(0x46),
  vadd: simd(0xe4),
  vsub: simd(0xe5),
  vmul: simd(0xe6),
  /** f32x4.pmax: `a < b ? b : a` (one instruction; NaN in a is not propagated). */
  vpmax: simd(0xeb),
  ishl: simd(0xab),
  iadd: simd(0xae),
};

/** Local-variable types. */
export const T = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;

/** A tuple of `N` local indices. */
export type Indices<N extends number, T extends number[] = []> = T['length'] extends N
  ? T
  : Indices<N, [...T, number]>;

/**
 * One function under construction: `params` i32 parameters (locals 0..params-1), further locals
 * declared with {@link Fn.local}, instructions appended with {@link Fn.emit}.
 */
export class Fn {
  readonly code: Code = [];
  private readonly localTypes: number[] = [];

  constructor(
    readonly name: string,
    readonly params: number,
  ) {}

  /** Declares a local of `type` and returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params + this.localTypes.length - 1;
  }

  /** Declares `count` locals of `type` and returns their indices. */
  locals<N extends number>(type: number, count: N): Indices<N> {
    return Array.from({ length: count }, () => this.local(type)) as Indices<N>;
  }

  emit(...parts: Code[]): this {
    for (const p of parts) for (const b of p) this.code.push(b);
    return this;
  }

  /**
   * `for (i = from; i < to; i += step) body()` on i32 locals (signed compare; no iteration when
   * `from >= to`). `from` / `to` / `step` are instruction sequences that push one i32 each.
   */
  forLoop(i: number, from: Code, to: Code, step: Code, body: () => void): this {
    this.emit(from, I.set(i));
    this.emit([0x02, 0x40], I.loop); // block, loop
    this.emit(I.get(i), to, I.ltS, I.eqz, I.brIf(1)); // leave the block when !(i < to)
    body();
    this.emit(I.get(i), step, I.add, I.set(i), [0x0c, 0x00], I.end, I.end); // br 0; end; end
    return this;
  }

  /** The function body: local declarations (grouped by runs of one type), code, `end`. */
  get body(): Code {
    const groups: [number, number][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const decl = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), t])];
    return [...decl, ...this.code, 0x0b];
  }
}

/** A function given as its encoded body (local declarations, code, `end`). */
export interface RawFunction {
  readonly name: string;
  /** Number of i32 parameters. */
  readonly params: number;
  readonly body: Code;
}

/** A module importing `env.memory` and exporting `fns` (each `(i32 x params) -> ()`) by name. */
export function moduleBytes(fns: readonly RawFunction[]): Uint8Array {
  const section = (id: number, content: Code): Code => [id, ...uleb(content.length), ...content];
  const str = (s: string): Code => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const arities = [...new Set(fns.map((f) => f.params))];
  const types = arities.flatMap((n) => [
    0x60,
    ...uleb(n),
    ...new Array<number>(n).fill(T.i32),
    0x00,
  ]);
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [...uleb(arities.length), ...types]),
    ...section(2, [0x01, ...str('env'), ...str('memory'), 0x02, 0x00, 0x01]),
    ...section(3, [...uleb(fns.length), ...fns.flatMap((f) => uleb(arities.indexOf(f.params)))]),
    ...section(7, [
      ...uleb(fns.length),
      ...fns.flatMap((f, i) => [...str(f.name), 0x00, ...uleb(i)]),
    ]),
    ...section(10, [
      ...uleb(fns.length),
      ...fns.flatMap((f) => [...uleb(f.body.length), ...f.body]),
    ]),
  ]);
}

/**
 * A getter that compiles the module of `build()` on first use and returns it ever after, or null
 * where WebAssembly (SIMD) is missing: a module that fails to compile is not retried.
 */
export function lazyModule(build: () => readonly RawFunction[]): () => object | null {
  let compiled: object | null | undefined;
  return () => {
    if (compiled === undefined) {
      const wa = wasmApi();
      try {
        compiled = wa ? new wa.Module(moduleBytes(build())) : null;
      } catch {
        compiled = null; // no WebAssembly SIMD
      }
    }
    return compiled;
  };
}

/** The exports of `module` instantiated over `memory`. */
export function instantiate(module: object, memory: WasmMemory): Record<string, unknown> {
  const wa = wasmApi();
  if (!wa) throw new Error('WebAssembly is not available');
  return new wa.Instance(module, { env: { memory } }).exports;
}
