package org.xpcvae;

/**
 * Counter-based random numbers {@code splitmix64-counter-v3}, bit for bit the same as
 * {@code python/xpcvae/rng.py} (uniforms everywhere, normals in the central 85 %; see below).
 *
 * <p>Every number is a pure function of {@code (seed, sourceKey(sourceId), counter)}, so a star's
 * posterior samples do not depend on its file, row, batching, threads or processing order. All
 * arithmetic is modulo 2<sup>64</sup> ({@code long} wrap-around, logical shifts); seeds and keys are
 * unsigned 64-bit integers (a negative {@code long} is its two's complement).
 *
 * <ul>
 *   <li>{@code mix64(z)}: {@code z ^= z>>>30; z *= 0xBF58476D1CE4E5B9; z ^= z>>>27;
 *       z *= 0x94D049BB133111EB; z ^= z>>>31} (the SplitMix64 finaliser)</li>
 *   <li>{@link #sourceKey}: a source id that is a canonical unsigned decimal integer fitting a
 *       {@code long} keys as its value, any other as the 64-bit FNV-1a hash of its UTF-8 bytes</li>
 *   <li>{@code streamKey(seed, key) = mix64(mix64(seed) ^ (key * 0xD1B54A32D192ED03))}</li>
 *   <li>{@code bits(key, n) = mix64(key + (n + 1) * 0x9E3779B97F4A7C15)}, which is the n-th
 *       output of {@code new java.util.SplittableRandom(key).nextLong()}</li>
 *   <li>{@code uniform(key, n) = ((bits >>> 12) + 0.5) * 2^-52} in double arithmetic: strictly
 *       inside (0, 1). 52 bits, not 53, so that the largest value {@code (2^52 - 1) + 0.5} is exactly
 *       representable and the result never rounds up to 1.0. Every uniform is an odd multiple of
 *       2<sup>-53</sup>.</li>
 *   <li>{@code normal(key, a) = inverseNormalCdf(uniform(key, a))}: ONE uniform per normal, through
 *       the normal quantile function of Wichura's algorithm AS241 (PPND16; M. J. Wichura 1988,
 *       "Algorithm AS 241: The percentage points of the normal distribution", Applied Statistics
 *       37(3), 477-484), evaluated exactly as {@link #inverseNormalCdf} spells out.</li>
 * </ul>
 *
 * <p>The central branch of AS241 ({@code |u - 0.5| <= 0.425}, 85 % of the normals) uses only
 * {@code + - * /} on constants that Java and Python parse to the same doubles, in a fixed order
 * and without fused multiply-adds, so its results are the same bits in both languages and on every
 * JVM and CPU. The tails take a logarithm: {@link Fdlibm#log}, a pure-Java port of the fdlibm
 * {@code log} that {@link StrictMath} specifies, so they too are JVM-independent. NumPy's {@code log}
 * differs from fdlibm's by an ulp for a few per cent of the arguments, which moves those tail deviates
 * by a few ulps (under 1e-15 relative); with the same logarithm the tails are the same bits too.
 *
 * <p>Version history: {@code splitmix64-counter-v1} made each normal from the two uniforms at
 * {@code a} and {@code a + 1} by Box-Muller (log, sqrt and cos); v2 is about four times cheaper per
 * normal in the sampler and halves the counters a posterior draw uses; v3 is v2's generator with
 * streams keyed by source id instead of row number.
 *
 * <p>Stateless and thread-safe.
 */
public final class CounterRng {

    /** Name of the algorithm, as written in a bundle's manifest ({@code "rng"}). */
    public static final String ALGORITHM = "splitmix64-counter-v3";

    /** Earlier schemes with another counter layout: refused, with a hint to re-export the bundle. */
    static final java.util.List<String> PREVIOUS_ALGORITHMS = java.util.List.of("splitmix64-counter-v1");

    /** v3's generator keyed by row number, the scheme of format-1 bundles (which {@code xpcvae upgrade-bundle} upgrades). */
    public static final String ROW_KEYED_ALGORITHM = "splitmix64-counter-v2";

    /** Largest seed, 2<sup>64</sup> - 1, in decimal (seeds are unsigned 64-bit integers). */
    public static final String SEED_MAX = "18446744073709551615";

    /** The 64-bit FNV-1a offset basis (Fowler, Noll &amp; Vo; IETF draft-eastlake-fnv). */
    public static final long FNV_OFFSET_BASIS = 0xcbf29ce484222325L;
    /** The 64-bit FNV prime. */
    public static final long FNV_PRIME = 0x100000001b3L;
    /** {@link Long#MAX_VALUE} in decimal: the largest source id keyed by its own value. */
    private static final String INTEGER_KEY_MAX = Long.toString(Long.MAX_VALUE);

    /** The golden-ratio increment (the one of {@link java.util.SplittableRandom}). */
    public static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private static final long M1 = 0xBF58476D1CE4E5B9L;
    private static final long M2 = 0x94D049BB133111EBL;
    private static final long KEY_MULT = 0xD1B54A32D192ED03L;
    private static final double TWO_POW_MINUS_52 = 0x1.0p-52;
    private static final double TWO_POW_MINUS_53 = 0x1.0p-53;
    /** The bits of 1.0: with a 52-bit integer m in the mantissa, the double 1 + m 2^-52. */
    private static final long ONE_BITS = 0x3FF0000000000000L;

    // AS241 (PPND16) coefficients, Wichura (1988). The denominators' constant terms are 1.
    private static final double A0 = 3.3871328727963666080e0;
    private static final double A1 = 1.3314166789178437745e+2;
    private static final double A2 = 1.9715909503065514427e+3;
    private static final double A3 = 1.3731693765509461125e+4;
    private static final double A4 = 4.5921953931549871457e+4;
    private static final double A5 = 6.7265770927008700853e+4;
    private static final double A6 = 3.3430575583588128105e+4;
    private static final double A7 = 2.5090809287301226727e+3;
    private static final double B1 = 4.2313330701600911252e+1;
    private static final double B2 = 6.8718700749205790830e+2;
    private static final double B3 = 5.3941960214247511077e+3;
    private static final double B4 = 2.1213794301586595867e+4;
    private static final double B5 = 3.9307895800092710610e+4;
    private static final double B6 = 2.8729085735721942674e+4;
    private static final double B7 = 5.2264952788528545610e+3;
    private static final double C0 = 1.42343711074968357734e0;
    private static final double C1 = 4.63033784615654529590e0;
    private static final double C2 = 5.76949722146069140550e0;
    private static final double C3 = 3.64784832476320460504e0;
    private static final double C4 = 1.27045825245236838258e0;
    private static final double C5 = 2.41780725177450611770e-1;
    private static final double C6 = 2.27238449892691845833e-2;
    private static final double C7 = 7.74545014278341407640e-4;
    private static final double D1 = 2.05319162663775882187e0;
    private static final double D2 = 1.67638483018380384940e0;
    private static final double D3 = 6.89767334985100004550e-1;
    private static final double D4 = 1.48103976427480074590e-1;
    private static final double D5 = 1.51986665636164571966e-2;
    private static final double D6 = 5.47593808499534494600e-4;
    private static final double D7 = 1.05075007164441684324e-9;
    private static final double E0 = 6.65790464350110377720e0;
    private static final double E1 = 5.46378491116411436990e0;
    private static final double E2 = 1.78482653991729133580e0;
    private static final double E3 = 2.96560571828504891230e-1;
    private static final double E4 = 2.65321895265761230930e-2;
    private static final double E5 = 1.24266094738807843860e-3;
    private static final double E6 = 2.71155556874348757815e-5;
    private static final double E7 = 2.01033439929228813265e-7;
    private static final double F1 = 5.99832206555887937690e-1;
    private static final double F2 = 1.36929880922735805310e-1;
    private static final double F3 = 1.48753612908506148525e-2;
    private static final double F4 = 7.86869131145613259100e-4;
    private static final double F5 = 1.84631831751005468180e-5;
    private static final double F6 = 1.42151175831644588870e-7;
    private static final double F7 = 2.04426310338993978564e-15;
    private static final double SPLIT1 = 0.425;
    private static final double SPLIT2 = 5.0;
    private static final double CONST1 = 0.180625;
    private static final double CONST2 = 1.6;

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

    /**
     * The key of a source's random stream: a source id of 1 to 19 ASCII digits whose value is at most
     * 2<sup>63</sup> - 1 keys as that value (leading zeros allowed: {@code "007"} keys as 7), any
     * other id as {@link #fnv1a64} of its UTF-8 bytes (so {@code "9223372036854775808"}, 2<sup>63</sup>,
     * is hashed).
     *
     * @param sourceId the source id
     * @return the key (an unsigned 64-bit integer)
     * @throws IllegalArgumentException if the id is not valid Unicode text (it holds a lone
     *                                  surrogate, which has no UTF-8 encoding)
     */
    public static long sourceKey(String sourceId) {
        int n = sourceId.length();
        boolean digits = n >= 1 && n <= 19;
        for (int i = 0; digits && i < n; i++) {
            char c = sourceId.charAt(i);
            digits = c >= '0' && c <= '9';
        }
        if (digits && (n < 19 || sourceId.compareTo(INTEGER_KEY_MAX) <= 0)) {
            return Long.parseLong(sourceId);
        }
        return fnv1a64(utf8(sourceId));
    }

    private static byte[] utf8(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                        "source id is not valid Unicode text: it contains a lone surrogate (U+%04X), so it has no "
                                + "UTF-8 bytes to key its random stream with", (int) c));
            }
        }
        return text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * The 64-bit FNV-1a hash: starting from {@link #FNV_OFFSET_BASIS}, per byte {@code h ^= b; h *= FNV_PRIME}.
     *
     * @param data the bytes
     * @return the hash
     */
    public static long fnv1a64(byte[] data) {
        long h = FNV_OFFSET_BASIS;
        for (byte b : data) {
            h ^= b & 0xFF;
            h *= FNV_PRIME;
        }
        return h;
    }

    /**
     * Key of the random stream of the source with key {@code sourceKey} ({@link #sourceKey}) under {@code seed}.
     *
     * @param seed      the seed (an unsigned 64-bit integer)
     * @param sourceKey the source's key
     * @return the stream key
     */
    public static long streamKey(long seed, long sourceKey) {
        return mix64(mix64(seed) ^ (sourceKey * KEY_MULT));
    }

    /**
     * A seed given as text (the CLI's {@code --seed}): decimal digits only, value 0 .. 2<sup>64</sup> - 1
     * (values from 2<sup>63</sup> on become negative {@code long}s, their two's complement).
     *
     * @param text the seed as text
     * @return the seed
     * @throws IllegalArgumentException with {@link #seedError} otherwise
     */
    public static long parseSeed(String text) {
        boolean digits = !text.isEmpty();
        for (int i = 0; digits && i < text.length(); i++) {
            digits = text.charAt(i) >= '0' && text.charAt(i) <= '9';
        }
        if (digits) {
            try {
                return Long.parseUnsignedLong(text);
            } catch (NumberFormatException tooLarge) {
                // reported below
            }
        }
        throw new IllegalArgumentException(seedError(text));
    }

    /**
     * The message refusing a seed (one wording in both engines: xpcvae.rng.seed_error).
     *
     * @param seed the seed as given
     * @return the message
     */
    public static String seedError(String seed) {
        return "seed " + seed + " is not an integer in 0.." + SEED_MAX + " (seeds are unsigned 64-bit integers)";
    }

    /** 64 random bits at position {@code counter} of the stream {@code key}. */
    public static long bits(long key, long counter) {
        return mix64(key + (counter + 1) * GOLDEN);
    }

    /** A uniform double strictly inside (0, 1) from the bits at {@code counter}. */
    public static double uniform(long key, long counter) {
        return ((double) (bits(key, counter) >>> 12) + 0.5) * TWO_POW_MINUS_52;
    }

    /** A standard normal deviate from the uniform at {@code counter}: {@code inverseNormalCdf(uniform(key, counter))}. */
    public static double normal(long key, long counter) {
        return inverseNormalCdf(uniform(key, counter));
    }

    /**
     * The standard normal quantile {@code Phi^-1(u)} for {@code u} strictly inside (0, 1), by
     * Wichura's algorithm AS241 (PPND16; Applied Statistics 37(3), 477-484, 1988), relative error
     * about 1e-16. With {@code q = u - 0.5}:
     * <ul>
     *   <li>{@code |q| <= 0.425}: {@code r = 0.180625 - q*q}, result {@code (q * A(r)) / B(r)};</li>
     *   <li>otherwise {@code r = sqrt(-log(min(u, 1 - u)))}; {@code r <= 5}: {@code C(r - 1.6) / D(r - 1.6)},
     *       else {@code E(r - 5) / F(r - 5)}; negated when {@code q < 0}.</li>
     * </ul>
     * The polynomials are evaluated by Horner's rule from the highest coefficient, one rounding
     * per operation (Java never fuses a multiply-add on its own), as {@code python/xpcvae/rng.py}
     * does. For the sampler's uniforms (multiples of 2<sup>-53</sup>) {@code u - 0.5} and
     * {@code 1 - u} are exact, and {@code inverseNormalCdf(1 - u) == -inverseNormalCdf(u)}.
     * Arguments outside (0, 1) give NaN or an infinity.
     */
    public static double inverseNormalCdf(double u) {
        double q = u - 0.5;
        if (Math.abs(q) <= SPLIT1) {
            return central(q);
        }
        return tail(u, q);
    }

    /** The central branch of AS241 for {@code q = u - 0.5}, any {@code q} (meaningful for |q| <= 0.425). */
    private static double central(double q) {
        double r = CONST1 - q * q;
        return q * (((((((A7 * r + A6) * r + A5) * r + A4) * r + A3) * r + A2) * r + A1) * r + A0)
                / (((((((B7 * r + B6) * r + B5) * r + B4) * r + B3) * r + B2) * r + B1) * r + 1.0);
    }

    /** The tail branches of AS241 ({@code |q| > 0.425}). */
    private static double tail(double u, double q) {
        double r = StrictMath.sqrt(-Fdlibm.log(q < 0 ? u : 1.0 - u));
        double v;
        if (r <= SPLIT2) {
            r -= CONST2;
            v = (((((((C7 * r + C6) * r + C5) * r + C4) * r + C3) * r + C2) * r + C1) * r + C0)
                    / (((((((D7 * r + D6) * r + D5) * r + D4) * r + D3) * r + D2) * r + D1) * r + 1.0);
        } else {
            r -= SPLIT2;
            v = (((((((E7 * r + E6) * r + E5) * r + E4) * r + E3) * r + E2) * r + E1) * r + E0)
                    / (((((((F7 * r + F6) * r + F5) * r + F4) * r + F3) * r + F2) * r + F1) * r + 1.0);
        }
        return q < 0 ? -v : v;
    }

    /**
     * Normals of a block of draws, as the sampler uses them: {@code out[r * count + q] =
     * normal(key, first + r * stride + q)} for rows {@code r < rows} and {@code q < count}; the same
     * values as {@link #normal}, bit for bit. Works in three passes over {@code out} (random bits;
     * the uniforms into {@code scratch} and the central branch for every element, a loop without
     * branches that the JIT compiles to overlapping, vectorised polynomial evaluations; the tails
     * where needed), about five times faster than one {@link #normal} call per element.
     *
     * @param scratch at least {@code rows * count} elements, overwritten: {@code scratch[r * count + q]}
     *                becomes {@code uniform(key, first + r * stride + q)}
     */
    public static void fillNormals(long key, long first, long stride, int rows, int count, double[] scratch,
                                   double[] out) {
        int n = rows * count;
        if (rows < 0 || count < 0 || scratch.length < n || out.length < n) {
            throw new IllegalArgumentException("fillNormals: " + rows + " x " + count + " normals do not fit arrays of "
                    + scratch.length + " and " + out.length);
        }
        // The uniforms in two exact steps: the double 1 + m 2^-52 (m = bits >>> 12) from its bit
        // pattern, then (that - 1) + 2^-53 = (m + 0.5) 2^-52, uniform()'s value, in the loop of the
        // central branch. Without uniform()'s long-to-double conversion the 17 normals of a draw
        // take 1.3 times less time on JDK 17 (115 against 153 ns on the benchmark machine).
        for (int r = 0; r < rows; r++) {
            long z = key + (first + r * stride + 1) * GOLDEN; // bits(key, c) = mix64(key + (c + 1) * GOLDEN)
            int o = r * count;
            for (int q = 0; q < count; q++) {
                scratch[o + q] = Double.longBitsToDouble(ONE_BITS | (mix64(z + q * GOLDEN) >>> 12));
            }
        }
        for (int i = 0; i < n; i++) {
            double u = (scratch[i] - 1.0) + TWO_POW_MINUS_53;
            scratch[i] = u;
            out[i] = central(u - 0.5);
        }
        for (int i = 0; i < n; i++) {
            double q = scratch[i] - 0.5;
            if (!(Math.abs(q) <= SPLIT1)) {
                out[i] = tail(scratch[i], q);
            }
        }
    }
}
