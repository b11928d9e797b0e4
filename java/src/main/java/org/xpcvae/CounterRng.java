package org.xpcvae;

/**
 * Counter-based random numbers {@code splitmix64-counter-v1}, bit for bit the same as
 * {@code python/xpcvae/rng.py}.
 *
 * <p>Every number is a pure function of {@code (seed, sourceIndex, counter)}, so posterior
 * samples do not depend on batching, threads or processing order. All arithmetic is modulo
 * 2<sup>64</sup> ({@code long} wrap-around, logical shifts); seeds and indices are unsigned
 * 64-bit integers (a negative {@code long} is its two's complement).
 *
 * <ul>
 *   <li>{@code mix64(z)}: {@code z ^= z>>>30; z *= 0xBF58476D1CE4E5B9; z ^= z>>>27;
 *       z *= 0x94D049BB133111EB; z ^= z>>>31} (the SplitMix64 finaliser)</li>
 *   <li>{@code streamKey(seed, i) = mix64(mix64(seed) ^ (i * 0xD1B54A32D192ED03))}</li>
 *   <li>{@code bits(key, n) = mix64(key + (n + 1) * 0x9E3779B97F4A7C15)}, which is the n-th
 *       output of {@code new java.util.SplittableRandom(key).nextLong()}</li>
 *   <li>{@code uniform(key, n) = ((bits >>> 12) + 0.5) * 2^-52} in double arithmetic: strictly
 *       inside (0, 1). 52 bits, not 53, so that the largest value {@code (2^52 - 1) + 0.5} is exactly
 *       representable and the result never rounds up to 1.0.</li>
 *   <li>{@code normal(key, a) = sqrt(-2 ln u_a) * cos(2 pi u_{a+1})} (Box-Muller, cosine branch)</li>
 * </ul>
 *
 * <p>The transcendental functions are {@link StrictMath}'s (fdlibm; {@code log} and {@code cos}
 * through {@link Fdlibm}, a bit-identical pure-Java port that avoids the native calls) so that
 * results are the same on every JVM and CPU (they agree with NumPy's to about one unit in the
 * last place).
 *
 * <p>Stateless and thread-safe.
 */
public final class CounterRng {

    /** Name of the algorithm, as written in a bundle's manifest ({@code "rng"}). */
    public static final String ALGORITHM = "splitmix64-counter-v1";

    /** The golden-ratio increment (the one of {@link java.util.SplittableRandom}). */
    public static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private static final long M1 = 0xBF58476D1CE4E5B9L;
    private static final long M2 = 0x94D049BB133111EBL;
    private static final long INDEX_MULT = 0xD1B54A32D192ED03L;
    private static final double TWO_POW_MINUS_52 = 0x1.0p-52;
    private static final double TWO_PI = 2.0 * Math.PI;

    private CounterRng() {
    }

    /** The SplitMix64 finaliser (wrapping arithmetic). */
    public static long mix64(long z) {
        z ^= z >>> 30;
        z *= M1;
        z ^= z >>> 27;
        z *= M2;
        z ^= z >>> 31;
        return z;
    }

    /** Key of the random stream of the source with 0-based index {@code sourceIndex} under {@code seed}. */
    public static long streamKey(long seed, long sourceIndex) {
        return mix64(mix64(seed) ^ (sourceIndex * INDEX_MULT));
    }

    /** 64 random bits at position {@code counter} of the stream {@code key}. */
    public static long bits(long key, long counter) {
        return mix64(key + (counter + 1) * GOLDEN);
    }

    /** A uniform double strictly inside (0, 1) from the bits at {@code counter}. */
    public static double uniform(long key, long counter) {
        return ((double) (bits(key, counter) >>> 12) + 0.5) * TWO_POW_MINUS_52;
    }

    /** A standard normal deviate from the uniforms at {@code counter} and {@code counter + 1}. */
    public static double normal(long key, long counter) {
        double u1 = uniform(key, counter);
        double u2 = uniform(key, counter + 1);
        return StrictMath.sqrt(-2.0 * Fdlibm.log(u1)) * Fdlibm.cos(TWO_PI * u2);
    }
}
