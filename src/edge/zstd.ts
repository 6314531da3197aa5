// zstd (the reference C library, compiled to WebAssembly by @bokuweb/zstd-wasm 0.0.27, MIT; the
// binary is vendored as src/vendor/zstd/zstd.wasm because the package's exports hide it, and a test
// holds it equal to the package's copy). Only the library's own functions are called here: this file
// instantiates the module and moves bytes in and out of its memory, nothing more.
import zstdModule from "../vendor/zstd/zstd.wasm";

/** The wasm exports we use, under the minified names the build gives them. */
interface ZstdExports {
  f: WebAssembly.Memory;
  g: () => void; // __wasm_call_ctors
  h: (code: number) => number; // ZSTD_isError
  i: (size: number) => number; // ZSTD_compressBound
  j: () => number; // ZSTD_createCCtx
  k: (cctx: number) => number; // ZSTD_freeCCtx
  l: (
    cctx: number,
    dst: number,
    cap: number,
    src: number,
    size: number,
    dict: number,
    dictSize: number,
    level: number,
  ) => number; // ZSTD_compress_usingDict
  n: () => number; // ZSTD_createDCtx
  o: (dctx: number) => number; // ZSTD_freeDCtx
  q: (dctx: number, dst: number, cap: number, src: number, size: number, dict: number, dictSize: number) => number; // ZSTD_decompress_usingDict
  s: (size: number) => number; // malloc
  t: (ptr: number) => void; // free
}

export interface Zstd {
  /**
   * Compresses `data` with `dict` as a raw-content dictionary (the decoder must be given the same
   * bytes). A dictionary starting with zstd's dictionary magic (37 A4 30 EC) would be read as a
   * formatted dictionary instead: callers never pass one (patch dictionaries start with a path).
   */
  compress(data: Uint8Array, dict: Uint8Array, level: number): Uint8Array;
  /** Decompresses one frame of declared content size `size` with raw-content dictionary `dict`. */
  decompress(frame: Uint8Array, dict: Uint8Array, size: number): Uint8Array;
  /** Bytes of linear memory the module holds now (it only ever grows). */
  memoryBytes(): number;
}

let instance: Promise<Zstd> | null = null;

/** The isolate's zstd, instantiated on first use and shared afterwards. */
export function zstd(): Promise<Zstd> {
  instance ??= instantiate().catch((error) => {
    instance = null;
    throw error;
  });
  return instance;
}

async function instantiate(): Promise<Zstd> {
  let exports: ZstdExports | null = null;
  const memory = () => (exports as ZstdExports).f;
  const imports = {
    a: {
      // proc_exit, runtime_keepalive_clear, abort, setitimer: never reached by the calls we make.
      a: (code: number) => {
        throw new Error(`zstd exited with ${code}`);
      },
      b: () => undefined,
      c: () => {
        throw new Error("zstd aborted");
      },
      d: () => 0,
      // emscripten_resize_heap: grow linear memory to at least `requested` bytes (64 KiB pages).
      e: (requested: number) => {
        const m = memory();
        const wanted = requested >>> 0;
        if (wanted > 2 ** 31) return 0;
        const pages = Math.ceil((wanted - m.buffer.byteLength) / 65536);
        try {
          m.grow(Math.max(pages, 0));
          return 1;
        } catch {
          return 0;
        }
      },
    },
  };
  const made = await WebAssembly.instantiate(zstdModule, imports);
  exports = made.exports as unknown as ZstdExports;
  const x = exports;
  x.g();
  const heap = () => new Uint8Array(x.f.buffer);
  const copyIn = (bytes: Uint8Array): number => {
    const ptr = x.s(Math.max(bytes.byteLength, 1));
    if (ptr === 0) throw new Error("zstd: out of memory");
    heap().set(bytes, ptr);
    return ptr;
  };
  const failed = (code: number) => x.h(code) !== 0;
  return {
    compress(data, dict, level) {
      const cap = x.i(data.byteLength);
      const src = copyIn(data);
      const pdict = copyIn(dict);
      const dst = x.s(cap);
      const cctx = x.j();
      try {
        if (dst === 0 || cctx === 0) throw new Error("zstd: out of memory");
        const size = x.l(cctx, dst, cap, src, data.byteLength, pdict, dict.byteLength, level);
        if (failed(size)) throw new Error(`zstd: compression failed (code ${size})`);
        return heap().slice(dst, dst + size);
      } finally {
        if (cctx !== 0) x.k(cctx);
        x.t(dst);
        x.t(pdict);
        x.t(src);
      }
    },
    decompress(frame, dict, size) {
      const src = copyIn(frame);
      const pdict = copyIn(dict);
      const dst = x.s(Math.max(size, 1));
      const dctx = x.n();
      try {
        if (dst === 0 || dctx === 0) throw new Error("zstd: out of memory");
        const got = x.q(dctx, dst, size, src, frame.byteLength, pdict, dict.byteLength);
        if (failed(got)) throw new Error(`zstd: decompression failed (code ${got})`);
        if (got !== size) throw new Error(`zstd: frame decoded to ${got} bytes, not ${size}`);
        return heap().slice(dst, dst + got);
      } finally {
        if (dctx !== 0) x.o(dctx);
        x.t(dst);
        x.t(pdict);
        x.t(src);
      }
    },
    memoryBytes: () => x.f.buffer.byteLength,
  };
}
