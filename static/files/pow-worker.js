// pow-worker.js: pays a veil proof-of-work challenge in a Web Worker, so
// the page stays responsive. Post {challenge, bits}; the worker answers
// {progress: hashes} now and then and {nonce} when SHA-256(challenge +
// ":" + nonce) begins with bits zero bits. Nonces are decimal counters
// from 0, as the server's own solver (server/pow.Solve) counts them.
// SHA-256 is written out here: crypto.subtle is asynchronous per hash and
// far slower for millions of tiny messages. The blocks of the challenge
// that never change are hashed once.
'use strict';

var K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]);
var INIT = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
var W = new Uint32Array(64);

// compress folds the 64-byte block of bytes at offset into the state h.
function compress(h, bytes, offset) {
  var i, t1, t2;
  for (i = 0; i < 16; i++) {
    var j = offset + 4 * i;
    W[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
  }
  for (i = 16; i < 64; i++) {
    var w15 = W[i - 15], w2 = W[i - 2];
    var s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    var s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (i = 0; i < 64; i++) {
    var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    var ch = (e & f) ^ (~e & g);
    t1 = (k + S1 + ch + K[i] + W[i]) | 0;
    var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    var maj = (a & b) ^ (a & c) ^ (b & c);
    t2 = (S0 + maj) | 0;
    k = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
}

// solve returns the first decimal nonce that pays challenge at bits
// (at most 32), calling progress(hashes) every 2^16 tries.
function solve(challenge, bits, progress) {
  var prefix = [];
  var s = challenge + ':';
  for (var i = 0; i < s.length; i++) {
    prefix.push(s.charCodeAt(i) & 0xff); // challenges are ASCII
  }
  var fixed = prefix.length - (prefix.length % 64);
  var mid = new Int32Array(INIT);
  var head = new Uint8Array(prefix.slice(0, fixed));
  for (var off = 0; off < fixed; off += 64) {
    compress(mid, head, off);
  }
  var tail = prefix.slice(fixed);
  var buf = new Uint8Array(128);
  var h = new Int32Array(8);
  for (var n = 0; ; n++) {
    var ns = String(n);
    var len = 0;
    for (i = 0; i < tail.length; i++) buf[len++] = tail[i];
    for (i = 0; i < ns.length; i++) buf[len++] = ns.charCodeAt(i);
    var blocks = len + 9 <= 64 ? 1 : 2;
    var end = 64 * blocks;
    buf[len] = 0x80;
    for (i = len + 1; i < end - 4; i++) buf[i] = 0;
    var bitLen = (fixed + len) * 8; // < 2^32 for any challenge
    buf[end - 4] = bitLen >>> 24; buf[end - 3] = bitLen >>> 16; buf[end - 2] = bitLen >>> 8; buf[end - 1] = bitLen;
    h.set(mid);
    compress(h, buf, 0);
    if (blocks === 2) compress(h, buf, 64);
    if (bits === 0 || (h[0] >>> (32 - bits)) === 0) {
      return ns;
    }
    if ((n & 0xffff) === 0xffff && progress) progress(n + 1);
  }
}

self.onmessage = function (ev) {
  var d = ev.data || {};
  var bits = d.bits | 0;
  if (typeof d.challenge !== 'string' || bits < 0 || bits > 32) {
    self.postMessage({ error: 'bad request' });
    return;
  }
  var nonce = solve(d.challenge, bits, function (hashes) {
    self.postMessage({ progress: hashes });
  });
  self.postMessage({ nonce: nonce });
};
