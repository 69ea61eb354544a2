/**
 * Randomness as a dependency. The gossip core never calls `Math.random`: it takes a `Random`,
 * so that the simulator can replay a run exactly from a seed.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). `n` must be a positive integer. */
  int(n: number): number;
}

/**
 * A seeded generator (sfc32, a small fast counter generator with a 128-bit state that passes
 * PractRand). The seed is expanded with splitmix32 so that nearby seeds give unrelated streams.
 */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next32();
  const next = (): number => next32() / 4294967296;
  return {
    next,
    int: (n) => Math.floor(next() * n),
  };
}

/** Derives an independent child generator, e.g. one per simulated member. */
export function forkRandom(parent: Random): Random {
  return seededRandom(Math.floor(parent.next() * 4294967296));
}
