// Zstandard decoder in plain JavaScript: a trimmed and hardened copy of fzstd 0.1.1
// (https://github.com/101arrowz/fzstd, MIT, copyright notice below), vendored so the SDK can decode
// patch segments (src/patch.ts) on any engine without WebAssembly.
//
// Changes from fzstd 0.1.1, and why:
// - Raw-content dictionaries. fzstd has none and silently decodes a frame made with a dictionary
//   wrong. Here the dictionary acts as the bytes just before the output: a match whose offset reaches
//   past the output's start copies from the dictionary's tail first (fzstd already did this for its
//   streaming window, which is what the dictionary now stands in for). Repeat offsets start at 1, 4, 8
//   and no entropy table comes from the dictionary, as the format says for raw-content dictionaries.
// - One frame of known size only: the caller gives the decoded size, the output is allocated once at
//   exactly that size (the dictionary is read in place; beyond the output only small tables are
//   allocated, whatever the frame claims) and anything else is an error: skippable frames, more than
//   one frame, trailing bytes, a frame naming a dictionary id, a content-size field or decoded length
//   other than the size given. The streaming class, multi-frame concatenation, the window buffer and
//   the fallbacks for engines without slice/fill/copyWithin are gone.
// - Speed: bit fields are read with 2-, 3- or 4-byte helpers as fzstd read them inline, repeat
//   offsets live in locals, long literal runs and non-overlapping matches use copyWithin.
// - Hardening, so corrupt input throws instead of returning bytes of another length, hanging or
//   writing out of place: every block, literals section and table is bounds-checked against its
//   block; literals and matches must fit the block's output; a match must not reach before the
//   dictionary; symbols are checked against each table's alphabet; the Huffman weight decoder stops at
//   255 weights (fzstd could loop forever on states with 0 bits); a sequences bit stream must be used
//   up exactly (the state update after the last sequence is not read, as in zstd).
// - The content checksum (XXH64), which fzstd skipped, is verified when the frame has one.
// - TypeScript for this repository: typed arrays indexed with `as number` (reads past the end give
//   undefined, which the bit operations turn into 0, as in fzstd), no aliases or optional fallbacks.
//
// MIT License
//
// Copyright (c) 2020 Arjun Barrett
//
// Permission is hereby granted, free of charge, to any person obtaining a copy
// of this software and associated documentation files (the "Software"), to deal
// in the Software without restriction, including without limitation the rights
// to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
// copies of the Software, and to permit persons to whom the Software is
// furnished to do so, subject to the following conditions:
//
// The above copyright notice and this permission notice shall be included in all
// copies or substantial portions of the Software.
//
// THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
// IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
// FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
// AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
// LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
// OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
// SOFTWARE.

// Huffman decoding table
interface HDT {
  // initial bits
  b: number;
  // symbols
  s: Uint8Array;
  // num bits
  n: Uint8Array;
}

// FSE decoding table
interface FSEDT extends HDT {
  // next state
  t: Uint16Array;
}

// state carried from block to block
interface State {
  // last huffman decoding table
  h: HDT | null;
  // last FSE decoding tables (match length, offset, literal length)
  t: [FSEDT, FSEDT, FSEDT] | null;
  // repeat offsets
  o: [number, number, number];
}

// largest decoded size of a block
const MAX_BLOCK = 131072;

function fail(message: string): never {
  throw new Error(`zstd: ${message}`);
}

function corrupt(): never {
  return fail("corrupt data");
}

// little-endian unsigned 32-bit read
const b4 = (d: Uint8Array, b: number) =>
  ((d[b] as number) | ((d[b + 1] as number) << 8) | ((d[b + 2] as number) << 16) | ((d[b + 3] as number) << 24)) >>> 0;

// n (0 to 25) bits of d from bit position p (bit 0: the low bit of d[0]); bytes past either end read as 0
const bits = (d: Uint8Array, p: number, n: number) => {
  const c = p >> 3;
  return (
    (((d[c] as number) | ((d[c + 1] as number) << 8) | ((d[c + 2] as number) << 16) | ((d[c + 3] as number) << 24)) >>>
      (p & 7)) &
    ((1 << n) - 1)
  );
};

// the same for n up to 17 and up to 9, reading fewer bytes (the sequences loop is faster for it)
const bits3 = (d: Uint8Array, p: number, n: number) => {
  const c = p >> 3;
  return (((d[c] as number) | ((d[c + 1] as number) << 8) | ((d[c + 2] as number) << 16)) >> (p & 7)) & ((1 << n) - 1);
};
const bits2 = (d: Uint8Array, p: number, n: number) => {
  const c = p >> 3;
  return (((d[c] as number) | ((d[c + 1] as number) << 8)) >> (p & 7)) & ((1 << n) - 1);
};

// most significant bit for nonzero
const msb = (val: number) => 31 - Math.clz32(val);

// read finite state entropy: table description at byte bt, max accuracy log mal, max symbol ms
const rfse = (dat: Uint8Array, bt: number, mal: number, ms: number): [number, FSEDT] => {
  // table pos
  let tpos = (bt << 3) + 4;
  // accuracy log
  const al = ((dat[bt] as number) & 15) + 5;
  if (al > mal) fail("FSE accuracy too high");
  // size
  const sz = 1 << al;
  // probabilities symbols  repeat   index   high threshold
  let probs = sz;
  let sym = -1;
  let re = -1;
  let i = -1;
  let ht = sz;
  // optimization: single allocation is much faster
  const buf = new ArrayBuffer(512 + (sz << 2));
  const freq = new Int16Array(buf, 0, 256);
  // same view as freq
  const dstate = new Uint16Array(buf, 0, 256);
  const nstate = new Uint16Array(buf, 512, sz);
  const bb1 = 512 + (sz << 1);
  const syms = new Uint8Array(buf, bb1, sz);
  const nbits = new Uint8Array(buf, bb1 + sz);
  while (sym < 255 && probs > 0) {
    const nb = msb(probs + 1);
    // mask
    const msk = (1 << (nb + 1)) - 1;
    let val = bits(dat, tpos, nb + 1);
    // mask (1 fewer bit)
    const msk1fb = (1 << nb) - 1;
    // max small value
    const msv = msk - probs - 1;
    // small value
    const sval = val & msk1fb;
    if (sval < msv) {
      tpos += nb;
      val = sval;
    } else {
      tpos += nb + 1;
      if (val > msk1fb) val -= msv;
    }
    freq[++sym] = --val;
    if (val === -1) {
      probs += val;
      syms[--ht] = sym;
    } else probs -= val;
    if (!val) {
      do {
        // repeat flag
        re = bits(dat, tpos, 2);
        tpos += 2;
        sym += re;
      } while (re === 3);
    }
  }
  if (sym > ms || probs) corrupt();
  let sympos = 0;
  // sym step (coprime with sz - formula from zstd source)
  const sstep = (sz >> 1) + (sz >> 3) + 3;
  // sym mask
  const smask = sz - 1;
  for (let s = 0; s <= sym; ++s) {
    const sf = freq[s] as number;
    if (sf < 1) {
      dstate[s] = -sf;
      continue;
    }
    // This is split into two loops in zstd to avoid branching, but as JS is higher-level that is unnecessary
    for (i = 0; i < sf; ++i) {
      syms[sympos] = s;
      do {
        sympos = (sympos + sstep) & smask;
      } while (sympos >= ht);
    }
  }
  // After spreading symbols, should be zero again
  if (sympos) corrupt();
  for (i = 0; i < sz; ++i) {
    // next state
    const s = syms[i] as number;
    const ns = dstate[s] as number;
    dstate[s] = ns + 1;
    // num bits
    const nb = al - msb(ns);
    nbits[i] = nb;
    nstate[i] = (ns << nb) - sz;
  }
  return [(tpos + 7) >> 3, { b: al, s: syms, n: nbits, t: nstate }];
};

// read huffman tree description at byte bt
const rhu = (dat: Uint8Array, bt: number): [number, HDT] => {
  //  index  weight count
  let i = 0;
  let wc = -1;
  //    buffer             header byte
  const buf = new Uint8Array(292);
  const hb = dat[bt] as number;
  // huffman weights
  const hw = buf.subarray(0, 256);
  // rank count
  const rc = buf.subarray(256, 268);
  // rank index
  const ri = new Uint16Array(buf.buffer, 268);
  // NOTE: at this point bt is 1 less than expected
  if (hb < 128) {
    // end byte, fse decode table
    const [ebt, fdt] = rfse(dat, bt + 1, 6, 255);
    bt += hb;
    const epos = ebt << 3;
    // last byte
    const lb = dat[bt] as number;
    if (!lb) corrupt();
    //  state1   state2   state1 bits   state2 bits
    let st1 = 0;
    let st2 = 0;
    let btr1 = fdt.b;
    let btr2 = btr1;
    // fse pos
    // pre-increment to account for original deficit of 1
    let fpos = (++bt << 3) - 8 + msb(lb);
    for (;;) {
      fpos -= btr1;
      if (fpos < epos) break;
      st1 += bits(dat, fpos, btr1);
      // at most 255 weights (the last one is implied); also ends runs of 0-bit states
      if (wc >= 254) corrupt();
      hw[++wc] = fdt.s[st1] as number;
      fpos -= btr2;
      if (fpos < epos) break;
      st2 += bits(dat, fpos, btr2);
      if (wc >= 254) corrupt();
      hw[++wc] = fdt.s[st2] as number;
      btr1 = fdt.n[st1] as number;
      st1 = fdt.t[st1] as number;
      btr2 = fdt.n[st2] as number;
      st2 = fdt.t[st2] as number;
    }
    ++wc;
  } else {
    wc = hb - 127;
    for (; i < wc; i += 2) {
      const byte = dat[++bt] as number;
      hw[i] = byte >> 4;
      hw[i + 1] = byte & 15;
    }
    ++bt;
  }
  // weight exponential sum
  let wes = 0;
  for (i = 0; i < wc; ++i) {
    const wt = hw[i] as number;
    // bits must be at most 11, same as weight
    if (wt > 11) corrupt();
    wes += wt && 1 << (wt - 1);
  }
  // max bits
  const mb = msb(wes) + 1;
  if (!wes || mb > 11) corrupt();
  // table size
  const ts = 1 << mb;
  // remaining sum
  const rem = ts - wes;
  // must be power of 2
  if (rem & (rem - 1)) corrupt();
  hw[wc++] = msb(rem) + 1;
  for (i = 0; i < wc; ++i) {
    const wt = hw[i] as number;
    const r = wt && mb + 1 - wt;
    hw[i] = r;
    ++(rc[r] as number);
  }
  // huf buf
  const hbuf = new Uint8Array(ts << 1);
  //    symbols                      num bits
  const syms = hbuf.subarray(0, ts);
  const nb = hbuf.subarray(ts);
  ri[mb] = 0;
  for (i = mb; i > 0; --i) {
    const pv = ri[i] as number;
    const nv = pv + (rc[i] as number) * (1 << (mb - i));
    ri[i - 1] = nv;
    nb.fill(i, pv, nv);
  }
  if (ri[0] !== ts) corrupt();
  for (i = 0; i < wc; ++i) {
    const nbi = hw[i] as number;
    if (nbi) {
      const code = ri[nbi] as number;
      const next = code + (1 << (mb - nbi));
      ri[nbi] = next;
      syms.fill(i, code, next);
    }
  }
  return [bt, { n: nb, b: mb, s: syms }];
};

// Tables generated using this:
// https://gist.github.com/101arrowz/a979452d4355992cbf8f257cbffc9edd

// default literal length table
const dllt = rfse(
  new Uint8Array([81, 16, 99, 140, 49, 198, 24, 99, 12, 33, 196, 24, 99, 102, 102, 134, 70, 146, 4]),
  0,
  6,
  35,
)[1];

// default match length table
const dmlt = rfse(
  new Uint8Array([
    33, 20, 196, 24, 99, 140, 33, 132, 16, 66, 8, 33, 132, 16, 66, 8, 33, 68, 68, 68, 68, 68, 68, 68, 68, 36, 9,
  ]),
  0,
  6,
  52,
)[1];

// default offset code table
const doct = rfse(new Uint8Array([32, 132, 16, 66, 102, 70, 68, 68, 68, 68, 36, 73, 2]), 0, 5, 28)[1];

// bits to baseline
const b2bl = (b: Uint8Array, s: number) => {
  const len = b.length;
  const bl = new Int32Array(len);
  for (let i = 0; i < len; ++i) {
    bl[i] = s;
    s += 1 << (b[i] as number);
  }
  return bl;
};

// literal length bits
const llb = new Uint8Array(
  new Int32Array([0, 0, 0, 0, 16843009, 50528770, 134678020, 202050057, 269422093]).buffer,
  0,
  36,
);

// literal length baseline
const llbl = b2bl(llb, 0);

// match length bits
const mlb = new Uint8Array(
  new Int32Array([0, 0, 0, 0, 0, 0, 0, 0, 16843009, 50528770, 117769220, 185207048, 252579084, 16]).buffer,
  0,
  53,
);

// match length baseline
const mlbl = b2bl(mlb, 3);

// largest symbol of each sequence code table: match length, offset, literal length
const maxsym = [52, 31, 35];

// decode huffman stream
const dhu = (dat: Uint8Array, out: Uint8Array, hu: HDT) => {
  const len = dat.length;
  const ss = out.length;
  const lb = dat[len - 1] as number;
  const msk = (1 << hu.b) - 1;
  const eb = -hu.b;
  if (!lb) corrupt();
  let st = 0;
  let btr = hu.b;
  let pos = (len << 3) - 8 + msb(lb) - btr;
  let i = -1;
  while (pos > eb && i < ss) {
    const cbt = pos >> 3;
    const val =
      ((dat[cbt] as number) | ((dat[cbt + 1] as number) << 8) | ((dat[cbt + 2] as number) << 16)) >> (pos & 7);
    st = ((st << btr) | val) & msk;
    out[++i] = hu.s[st] as number;
    btr = hu.n[st] as number;
    pos -= btr;
  }
  if (pos !== eb || i + 1 !== ss) corrupt();
};

// decode huffman stream 4x
const dhu4 = (dat: Uint8Array, out: Uint8Array, hu: HDT) => {
  let bt = 6;
  const ss = out.length;
  const sz1 = (ss + 3) >> 2;
  const sz2 = sz1 << 1;
  const sz3 = sz1 + sz2;
  if (dat.length < 6) corrupt();
  const e1 = bt + ((dat[0] as number) | ((dat[1] as number) << 8));
  const e2 = e1 + ((dat[2] as number) | ((dat[3] as number) << 8));
  const e3 = e2 + ((dat[4] as number) | ((dat[5] as number) << 8));
  if (e3 > dat.length) corrupt();
  dhu(dat.subarray(bt, e1), out.subarray(0, sz1), hu);
  dhu(dat.subarray(e1, e2), out.subarray(sz1, sz2), hu);
  dhu(dat.subarray(e2, e3), out.subarray(sz2, sz3), hu);
  bt = e3;
  dhu(dat.subarray(bt), out.subarray(sz3), hu);
};

// Decode the compressed block dat[bt, ebt) into out from position y on; returns the new position.
// The block's output goes to out[y, end): its literals are first decoded to the end of that range,
// then sequences copy them forward and add matches (from out, or before out's start from dict).
const rzb = (
  dat: Uint8Array,
  bt: number,
  ebt: number,
  out: Uint8Array,
  y: number,
  bmax: number,
  dict: Uint8Array,
  st: State,
) => {
  const end = Math.min(y + bmax, out.length);
  //    byte 3        lit btype     size format
  const b3 = dat[bt] as number;
  const lbt = b3 & 3;
  const sf = (b3 >> 2) & 3;
  // lit src size  lit cmp sz 4 streams
  let lss = b3 >> 4;
  let lcs = 0;
  let s4 = 0;
  if (lbt < 2) {
    if (sf & 1) {
      lss |= (dat[++bt] as number) << 4;
      if (sf & 2) lss |= (dat[++bt] as number) << 12;
    } else lss = b3 >> 3;
  } else {
    s4 = sf;
    const c1 = dat[bt + 1] as number;
    const c2 = dat[bt + 2] as number;
    const c3 = dat[bt + 3] as number;
    const c4 = dat[bt + 4] as number;
    if (sf < 2) {
      lss |= (c1 & 63) << 4;
      lcs = (c1 >> 6) | (c2 << 2);
      bt += 2;
    } else if (sf === 2) {
      lss |= (c1 << 4) | ((c2 & 3) << 12);
      lcs = (c2 >> 2) | (c3 << 6);
      bt += 3;
    } else {
      lss |= (c1 << 4) | ((c2 & 63) << 12);
      lcs = (c2 >> 6) | (c3 << 2) | (c4 << 10);
      bt += 4;
    }
  }
  ++bt;
  // add literals to end - can never overlap with backreferences because unused literals always appended
  let spl = end - lss;
  if (spl < y) corrupt();
  if (lbt === 0) {
    if (bt + lss > ebt) corrupt();
    out.set(dat.subarray(bt, bt + lss), spl);
    bt += lss;
  } else if (lbt === 1) {
    if (bt >= ebt) corrupt();
    out.fill(dat[bt++] as number, spl, end);
  } else {
    // huffman table
    let hu = st.h;
    if (lbt === 2) {
      const [nbt, table] = rhu(dat, bt);
      // subtract description length
      lcs -= nbt - bt;
      bt = nbt;
      st.h = hu = table;
    }
    if (!hu || lcs < 0 || bt + lcs > ebt) return corrupt();
    (s4 ? dhu4 : dhu)(dat.subarray(bt, bt + lcs), out.subarray(spl, end), hu);
    bt += lcs;
  }
  if (bt >= ebt) corrupt();
  // num sequences
  let ns = dat[bt++] as number;
  if (ns === 255) {
    ns = ((dat[bt] as number) | ((dat[bt + 1] as number) << 8)) + 0x7f00;
    bt += 2;
  } else if (ns > 127) ns = ((ns - 128) << 8) | (dat[bt++] as number);
  if (!ns) {
    // literals only
    if (bt !== ebt) corrupt();
    out.copyWithin(y, spl, end);
    return y + lss;
  }
  // symbol compression modes
  const scm = dat[bt++] as number;
  if (scm & 3) corrupt();
  const dts: [FSEDT, FSEDT, FSEDT] = [dmlt, doct, dllt];
  for (let i = 2; i > -1; --i) {
    const md = (scm >> ((i << 1) + 2)) & 3;
    const ms = maxsym[i] as number;
    if (md === 1) {
      // rle
      const sym = dat[bt++] as number;
      if (sym > ms) corrupt();
      dts[i] = { s: new Uint8Array([sym]), n: new Uint8Array(1), t: new Uint16Array(1), b: 0 };
    } else if (md === 2) {
      // accuracy log 8 for offsets, 9 for others
      [bt, dts[i]] = rfse(dat, bt, 9 - (i & 1), ms);
    } else if (md === 3) {
      if (!st.t) return corrupt();
      dts[i] = st.t[i] as FSEDT;
    }
  }
  st.t = dts;
  const [mlt, oct, llt] = dts;
  if (bt >= ebt) corrupt();
  // where the sequences bit stream starts: reading must end exactly there
  const sbt = bt << 3;
  const lb = dat[ebt - 1] as number;
  if (!lb) corrupt();
  let spos = (ebt << 3) - 8 + msb(lb) - llt.b;
  let lst = bits(dat, spos, llt.b);
  spos -= oct.b;
  let ost = bits(dat, spos, oct.b);
  spos -= mlt.b;
  let mst = bits(dat, spos, mlt.b);
  let [o0, o1, o2] = st.o;
  const dl = dict.length;
  // output position
  let op = y;
  for (; ns > 0; --ns) {
    const llc = llt.s[lst] as number;
    const mlc = mlt.s[mst] as number;
    const ofc = oct.s[ost] as number;
    spos -= ofc;
    let off =
      ofc > 24
        ? 2 ** ofc + bits(dat, spos, 24) + bits(dat, spos + 24, ofc - 24) * 0x1000000
        : (1 << ofc) + bits(dat, spos, ofc);
    const mbits = mlb[mlc] as number;
    spos -= mbits;
    let ml = (mlbl[mlc] as number) + bits3(dat, spos, mbits);
    const lbits = llb[llc] as number;
    spos -= lbits;
    const ll = (llbl[llc] as number) + bits3(dat, spos, lbits);
    if (ns > 1) {
      // state updates (none after the last sequence)
      let nb = llt.n[lst] as number;
      spos -= nb;
      lst = (llt.t[lst] as number) + bits2(dat, spos, nb);
      nb = mlt.n[mst] as number;
      spos -= nb;
      mst = (mlt.t[mst] as number) + bits2(dat, spos, nb);
      nb = oct.n[ost] as number;
      spos -= nb;
      ost = (oct.t[ost] as number) + bits2(dat, spos, nb);
    }
    if (off > 3) {
      o2 = o1;
      o1 = o0;
      o0 = off -= 3;
    } else {
      const idx = off - (ll !== 0 ? 1 : 0);
      if (idx) {
        off = idx === 1 ? o1 : idx === 2 ? o2 : o0 - 1;
        if (idx > 1) o2 = o1;
        o1 = o0;
        o0 = off;
      } else off = o0;
    }
    // literals must be there, and the output must not run into the literals not yet copied
    if (ll > end - spl) corrupt();
    if (ll < 32) {
      for (let i = 0; i < ll; ++i) out[op + i] = out[spl + i] as number;
    } else out.copyWithin(op, spl, spl + ll);
    op += ll;
    spl += ll;
    if (ml > spl - op) corrupt();
    // match start, from the output's start: negative reaches into the dictionary
    let stin = op - off;
    if (off < 1 || stin < -dl) fail("match distance too far back");
    if (stin < 0) {
      const len = Math.min(-stin, ml);
      const ds = dl + stin;
      if (len < 32) {
        for (let i = 0; i < len; ++i) out[op + i] = dict[ds + i] as number;
      } else out.set(dict.subarray(ds, ds + len), op);
      op += len;
      ml -= len;
      stin = 0;
    }
    if (ml < 32 || off < ml) {
      for (let i = 0; i < ml; ++i) out[op + i] = out[stin + i] as number;
    } else out.copyWithin(op, stin, stin + ml);
    op += ml;
  }
  if (spos !== sbt) corrupt();
  st.o = [o0, o1, o2];
  // the literals left
  out.copyWithin(op, spl, end);
  return op + end - spl;
};

// XXH64 on 32-bit halves: operations leave their result in r[0] (high) and r[1] (low), a typed array
// so that storing a 32-bit value allocates nothing
const r = new Int32Array(2);
const hi = (): number => r[0] as number;
const lo = (): number => r[1] as number;

// (ah, al) * (bh, bl) mod 2^64
const mul64 = (ah: number, al: number, bh: number, bl: number) => {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  r[1] = (mid << 16) | (p00 & 0xffff);
  r[0] = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(al, bh) + Math.imul(ah, bl);
};

// (ah, al) + (bh, bl) mod 2^64
const add64 = (ah: number, al: number, bh: number, bl: number) => {
  const sum = (al >>> 0) + (bl >>> 0);
  r[1] = sum;
  r[0] = ah + bh + (sum > 0xffffffff ? 1 : 0);
};

// (h, l) rotated left by n (1 to 31) bits
const rotl64 = (h: number, l: number, n: number) => {
  r[0] = (h << n) | (l >>> (32 - n));
  r[1] = (l << n) | (h >>> (32 - n));
};

const P1H = 0x9e3779b1;
const P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d;
const P2L = 0x27d4eb4f;
const P3H = 0x165667b1;
const P3L = 0x9e3779f9;
const P4H = 0x85ebca77;
const P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f;
const P5L = 0x165667c5;

// XXH64 round: rotl(acc + input * P2, 31) * P1
const round64 = (ah: number, al: number, ih: number, il: number) => {
  mul64(ih, il, P2H, P2L);
  add64(ah, al, hi(), lo());
  rotl64(hi(), lo(), 31);
  mul64(hi(), lo(), P1H, P1L);
};

// low 32 bits of XXH64 (seed 0) of d: the zstd content checksum
const xxh64lo = (d: Uint8Array) => {
  const len = d.length;
  let p = 0;
  let hh: number;
  let hl: number;
  if (len >= 32) {
    add64(P1H, P1L, P2H, P2L);
    let v1h = hi();
    let v1l = lo();
    let v2h = P2H;
    let v2l = P2L;
    let v3h = 0;
    let v3l = 0;
    // -P1
    let v4h = 0x61c8864e;
    let v4l = 0x7a143579;
    for (; p <= len - 32; p += 32) {
      round64(v1h, v1l, b4(d, p + 4), b4(d, p));
      v1h = hi();
      v1l = lo();
      round64(v2h, v2l, b4(d, p + 12), b4(d, p + 8));
      v2h = hi();
      v2l = lo();
      round64(v3h, v3l, b4(d, p + 20), b4(d, p + 16));
      v3h = hi();
      v3l = lo();
      round64(v4h, v4l, b4(d, p + 28), b4(d, p + 24));
      v4h = hi();
      v4l = lo();
    }
    rotl64(v1h, v1l, 1);
    hh = hi();
    hl = lo();
    rotl64(v2h, v2l, 7);
    add64(hh, hl, hi(), lo());
    hh = hi();
    hl = lo();
    rotl64(v3h, v3l, 12);
    add64(hh, hl, hi(), lo());
    hh = hi();
    hl = lo();
    rotl64(v4h, v4l, 18);
    add64(hh, hl, hi(), lo());
    hh = hi();
    hl = lo();
    for (const [vh, vl] of [
      [v1h, v1l],
      [v2h, v2l],
      [v3h, v3l],
      [v4h, v4l],
    ] as const) {
      round64(0, 0, vh, vl);
      mul64(hh ^ hi(), hl ^ lo(), P1H, P1L);
      add64(hi(), lo(), P4H, P4L);
      hh = hi();
      hl = lo();
    }
  } else {
    hh = P5H;
    hl = P5L;
  }
  add64(hh, hl, Math.floor(len / 0x100000000), len >>> 0);
  hh = hi();
  hl = lo();
  for (; p <= len - 8; p += 8) {
    round64(0, 0, b4(d, p + 4), b4(d, p));
    rotl64(hh ^ hi(), hl ^ lo(), 27);
    mul64(hi(), lo(), P1H, P1L);
    add64(hi(), lo(), P4H, P4L);
    hh = hi();
    hl = lo();
  }
  if (p <= len - 4) {
    mul64(0, b4(d, p), P1H, P1L);
    rotl64(hh ^ hi(), hl ^ lo(), 23);
    mul64(hi(), lo(), P2H, P2L);
    add64(hi(), lo(), P3H, P3L);
    hh = hi();
    hl = lo();
    p += 4;
  }
  for (; p < len; ++p) {
    mul64(0, d[p] as number, P5H, P5L);
    rotl64(hh ^ hi(), hl ^ lo(), 11);
    mul64(hi(), lo(), P1H, P1L);
    hh = hi();
    hl = lo();
  }
  // avalanche
  mul64(hh, hl ^ (hh >>> 1), P2H, P2L);
  hh = hi();
  hl = lo();
  mul64(hh ^ (hh >>> 29), hl ^ ((hl >>> 29) | (hh << 3)), P3H, P3L);
  return (lo() ^ hi()) >>> 0;
};

/**
 * Decodes one zstd frame whose content is exactly `size` bytes, with `dict` (may be empty) as its
 * raw-content dictionary. Throws on anything else: a truncated or corrupt frame, bytes after the
 * frame, a skippable frame, a frame that names a dictionary id, a content size other than `size`,
 * or a content checksum that does not match. Allocates the output once, `size` bytes.
 */
export function zstdDecompress(frame: Uint8Array, dict: Uint8Array, size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) fail("invalid size");
  const n = frame.length;
  if (n < 4) fail("unexpected end of data");
  const magic = b4(frame, 0);
  if (magic !== 0xfd2fb528) fail((magic & 0xfffffff0) === 0x184d2a50 ? "skippable frame" : "not a zstd frame");
  if (n < 5) fail("unexpected end of data");
  const flg = frame[4] as number;
  //    single segment       checksum             dict flag     frame content flag
  const ss = (flg >> 5) & 1;
  const cc = (flg >> 2) & 1;
  const df = flg & 3;
  const fcf = flg >> 6;
  if (flg & 8) corrupt();
  // byte
  let bt = 6 - ss;
  // dict bytes
  const db = df === 3 ? 4 : df;
  // frame size bytes
  const fsb = fcf ? 1 << fcf : ss;
  // the header and the first block header
  if (n < bt + db + fsb + 3) fail("unexpected end of data");
  // dictionary id (0: none)
  const di = db === 4 ? b4(frame, bt) : db === 2 ? b4(frame, bt) & 0xffff : db ? frame[bt] : 0;
  if (di) fail("frame needs a dictionary id");
  bt += db;
  // frame content size
  let fcs = -1;
  if (fsb === 8) fcs = b4(frame, bt) + b4(frame, bt + 4) * 0x100000000;
  else if (fsb === 4) fcs = b4(frame, bt);
  else if (fsb === 2) fcs = ((frame[bt] as number) | ((frame[bt + 1] as number) << 8)) + 256;
  else if (fsb === 1) fcs = frame[bt] as number;
  if (fsb && fcs !== size) fail("frame content size differs");
  bt += fsb;
  // window size
  let ws = fcs;
  if (!ss) {
    // window descriptor
    const wb = 2 ** (10 + ((frame[5] as number) >> 3));
    ws = wb + (wb / 8) * ((frame[5] as number) & 7);
  }
  // largest block
  const bmax = Math.min(MAX_BLOCK, ws);
  const out = new Uint8Array(size);
  const st: State = { h: null, t: null, o: [1, 4, 8] };
  let y = 0;
  for (let last = 0; !last; ) {
    if (bt + 3 > n) fail("unexpected end of data");
    const b0 = (frame[bt] as number) | ((frame[bt + 1] as number) << 8) | ((frame[bt + 2] as number) << 16);
    last = b0 & 1;
    const btype = (b0 >> 1) & 3;
    const sz = b0 >> 3;
    bt += 3;
    if (sz > bmax) corrupt();
    if (btype === 1) {
      if (bt >= n) fail("unexpected end of data");
      if (sz > size - y) fail("content longer than size");
      out.fill(frame[bt] as number, y, y + sz);
      y += sz;
      bt += 1;
      continue;
    }
    if (bt + sz > n) fail("unexpected end of data");
    if (btype === 0) {
      if (sz > size - y) fail("content longer than size");
      out.set(frame.subarray(bt, bt + sz), y);
      y += sz;
    } else if (btype === 2) y = rzb(frame, bt, bt + sz, out, y, bmax, dict, st);
    else fail("invalid block type");
    bt += sz;
  }
  if (y !== size) fail("content shorter than size");
  if (cc) {
    if (bt + 4 > n) fail("unexpected end of data");
    if (b4(frame, bt) !== xxh64lo(out)) fail("checksum mismatch");
    bt += 4;
  }
  if (bt !== n) fail("data after the frame");
  return out;
}
