// The SDK's only contact with its platform: small interfaces a host app may replace. Defaults are
// in defaults.ts (pure JavaScript) and node.ts (file system); nothing here touches a platform API.

/** Verifies an Ed25519 signature (RFC 8032). May be async (WebCrypto). */
export type Ed25519Verify = (
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
) => boolean | Promise<boolean>;

/** The sha256 digest (32 bytes) of some bytes. May be async (WebCrypto). */
export type Sha256 = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/**
 * Inflates one raw DEFLATE stream (zip method 8) whose output the archive declares as `size` bytes.
 * It MUST NOT produce more than `size + 1` bytes (the SDK refuses any length but `size`), so a
 * package cannot expand beyond what its signed manifest says.
 */
export type Inflate = (compressed: Uint8Array, size: number) => Uint8Array | Promise<Uint8Array>;

/** Fills a new array of `length` bytes from a cryptographically secure source. */
export type RandomBytes = (length: number) => Uint8Array;

/**
 * Decodes the compressed segments of incremental patches (docs/protocol.md, "Incremental patches").
 * The SDK reads the patch container, builds each segment's dictionary from the installed files and
 * checks every resulting file against the signed manifest; the decoder only decompresses. The one
 * format is `updraft-zstd-v1`: one zstd frame of exactly `size` bytes with `dictionary` as a
 * raw-content dictionary. It MUST throw rather than return more or fewer than `size` bytes. The
 * default is pure JavaScript (zstdJsDecoder); an engine with WebAssembly may pass a faster one.
 */
export interface PatchDecoder {
  /** The format's name as the service knows it: `updraft-zstd-v1`. */
  readonly format: string;
  decompress(frame: Uint8Array, dictionary: Uint8Array, size: number): Uint8Array | Promise<Uint8Array>;
}

/** The local clock, in Unix ms. */
export type Clock = () => number;

/** Waits `ms` milliseconds (retry backoff). */
export type Sleep = (ms: number) => Promise<void>;

/**
 * Calls `callback` once, `ms` milliseconds from now, unless the returned function cancels it first
 * (device events are sent on a timer). It should not keep a process alive by itself: a command-line
 * host must be able to exit with events still queued (they stay in storage for the next run).
 */
export type Timer = (callback: () => void, ms: number) => () => void;

/** An HTTP request as the SDK sends it. Header names are lower-case. */
export interface HttpRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

/** An HTTP response whose body the SDK reads chunk by chunk. */
export interface HttpResponse {
  status: number;
  /** A response header by (case-insensitive) name, or null. */
  header(name: string): string | null;
  /**
   * The body as chunks. The SDK may stop reading early (a download longer than signed): leaving the
   * loop calls the iterator's `return`, which MUST release the connection.
   */
  body: AsyncIterable<Uint8Array>;
}

/** Sends HTTP requests. Throws on network failure (any thrown value counts as a network error). */
export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
}

/** A file of an installed version, as written to storage. */
export interface StoredFile {
  /** `/`-separated relative path, validated by the SDK (no `.`/`..`/empty segments, no `\`). */
  path: string;
  bytes: Uint8Array;
}

/**
 * Where the SDK keeps its state. Three parts:
 * - records: small texts by key (trusted key set, installed versions, failed versions). `set` MUST be
 *   atomic (a reader sees the old or the new value, never a mix, even across a crash): switching the
 *   installed-version record is how an install becomes visible.
 * - blobs: partial downloads, appended to as bytes arrive and read back to resume.
 * - file sets: the unpacked files of one version, written whole before any record names them.
 */
export interface UpdraftStorage {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every record key starting with `prefix`. */
  keys(prefix: string): Promise<string[]>;

  readBlob(name: string): Promise<Uint8Array | null>;
  appendBlob(name: string, bytes: Uint8Array): Promise<void>;
  deleteBlob(name: string): Promise<void>;

  /**
   * Writes a complete file set under `set` (a name of `[a-z0-9-]` the SDK chose, never reused). Either
   * all files are there afterwards or the set does not exist.
   */
  writeFileSet(set: string, files: readonly StoredFile[]): Promise<void>;
  /** A file of a set, or null. */
  readFile(set: string, path: string): Promise<Uint8Array | null>;
  deleteFileSet(set: string): Promise<void>;
  listFileSets(): Promise<string[]>;
}
