package org.xpcvae;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

/**
 * The posterior draws of one source from the outputs of its per-spectrum graphs, exactly as
 * docs/sampling.md specifies: the mixture component and latent vector of each draw from the
 * source's random stream ({@link CounterRng}), {@code decoder_sample} on runs of draws, and the
 * logit-normal transform to the prior box. Draw j depends only on the bundle, the spectrum, the
 * stream key, the seed and j, bit for bit (not on N, the run size or other sources).
 *
 * <p>Thread-safe: the state of a call lives on the stack and in its {@link SamplerWorkspace}.
 */
final class SourceDraws {

    /** The outputs of the two per-spectrum graphs for one spectrum, float32 as ONNX Runtime returned them. */
    static final class EncoderOutputs {
        /** {@code mix_logits} [K]. */
        float[] logits;
        /** {@code mix_mean} [K, L], row-major. */
        float[] mean;
        /** {@code mix_log_std} [K, L], row-major. */
        float[] logStd;
        /** {@code context} [H]. */
        float[] context;
    }

    private final ModelBundle bundle;
    private final OrtSession decoder;
    private final PosteriorSampler.Options options;
    private final int latent;
    private final int components;
    private final int nParams;
    private final int drawsPerSample;
    private final double[] low;
    private final double[] high;

    /** The draws of {@code bundle}'s posteriors, {@code decoder} being its opened {@code decoder_sample}. */
    SourceDraws(ModelBundle bundle, OrtSession decoder, PosteriorSampler.Options options) {
        this.bundle = bundle;
        this.decoder = decoder;
        this.options = options;
        this.latent = bundle.latentSize();
        this.components = bundle.mixtureComponents();
        this.nParams = bundle.parameterCount();
        this.drawsPerSample = bundle.drawsPerSample();
        this.low = new double[nParams];
        this.high = new double[nParams];
        for (int p = 0; p < nParams; p++) {
            low[p] = bundle.parameters().get(p).low();
            high[p] = bundle.parameters().get(p).high();
        }
    }

    /**
     * The {@code n} draws of source {@code id} (stream key {@code sourceKey}, seed {@code seed})
     * given its per-spectrum graph outputs {@code e}, using the buffers of {@code ws}.
     *
     * @throws InferenceException if ONNX Runtime fails or decoder_sample returns a non-finite value
     */
    PosteriorSamples draw(String id, long sourceKey, int n, long seed, EncoderOutputs e, SamplerWorkspace ws) {
        final int kk = components;
        final int l = latent;
        final int p = nParams;
        final long d = drawsPerSample;
        final long key = CounterRng.streamKey(seed, sourceKey);

        // 1. mixture weights: softmax in double (subtract the max, exp, divide by the sum)
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < kk; k++) {
            max = Math.max(max, e.logits[k]);
        }
        double[] w = new double[kk];
        double sum = 0.0;
        for (int k = 0; k < kk; k++) {
            w[k] = StrictMath.exp((double) e.logits[k] - max);
            sum += w[k];
        }
        for (int k = 0; k < kk; k++) {
            w[k] /= sum;
        }
        // component means and standard deviations in double
        double[] mean = new double[kk * l];
        double[] std = new double[kk * l];
        for (int q = 0; q < kk * l; q++) {
            mean[q] = e.mean[q];
            std[q] = e.logStd[q];
        }
        expInPlace(std, kk * l);

        double[] x = new double[n * p];
        int rows = options.rowsPerRun(n);
        // the spectrum's context, once per row of a run (the same for every run of this source)
        ws.context.clear();
        for (int r = 0; r < rows; r++) {
            ws.context.put(e.context);
        }
        float[] z = ws.zRow;
        float[] loc = ws.locRow;
        float[] logScale = ws.logScaleRow;
        double[] eps = ws.eps;
        for (int j0 = 0; j0 < n; j0 += rows) {
            int m = Math.min(rows, n - j0);
            long runBase = (long) j0 * d;
            // 2. latent vectors of draws j0 .. j0+m-1: the normals of the whole run first (counters
            // b + 1 + q of draw j, b = j * D), so that their independent evaluations overlap
            CounterRng.fillNormals(key, runBase + 1, d, m, l, ws.uniforms, eps);
            for (int r = 0; r < m; r++) {
                double u = CounterRng.uniform(key, runBase + r * d);
                int comp = kk - 1;
                double cum = 0.0;
                for (int k = 0; k < kk; k++) {
                    cum += w[k];
                    if (u < cum) {
                        comp = k;
                        break;
                    }
                }
                int c0 = comp * l;
                int o = r * l;
                for (int q = 0; q < l; q++) {
                    z[o + q] = (float) (mean[c0 + q] + std[c0 + q] * eps[o + q]);
                }
            }
            ws.z.clear();
            ws.z.put(z, 0, m * l);
            // 3. parameters: decoder_sample writes loc and log_scale into the workspace's buffers
            runDecoder(id, ws, m);
            ws.loc.position(0);
            ws.loc.get(loc, 0, m * p);
            ws.logScale.position(0);
            ws.logScale.get(logScale, 0, m * p);
            // parameter normals at counters b + 1 + L + q
            CounterRng.fillNormals(key, runBase + 1 + l, d, m, p, ws.uniforms, eps);
            toParameters(id, j0, m, ws, x);
        }
        return new PosteriorSamples(id, sourceKey, seed, bundle.parameters(), x);
    }

    /**
     * Step 3 for the {@code m} draws of a run starting at draw {@code j0}: {@code x = low + (high - low)
     * / (1 + exp(-(loc + exp(log_scale) * eps)))} from the run's decoder outputs and parameter normals
     * in the workspace, into {@code x} from row {@code j0}. The same operations in the same order as
     * one draw at a time, so the same bits, but in passes over the whole run on double arrays: C2
     * compiles a {@code StrictMath.exp} loop over a {@code double[]} to code about three times
     * faster than one whose argument comes from a {@code float[]} element (measured on JDK 17), and
     * the arithmetic passes are plain loops it can vectorise.
     */
    private void toParameters(String id, int j0, int m, SamplerWorkspace ws, double[] x) {
        final int p = nParams;
        final int n = m * p;
        final float[] locF = ws.locRow;
        final float[] logScaleF = ws.logScaleRow;
        final double[] loc = ws.locD;
        final double[] t = ws.scaleD;
        final double[] eps = ws.eps;
        for (int i = 0; i < n; i++) {
            float lc = locF[i];
            float ls = logScaleF[i];
            if (!Float.isFinite(lc) || !Float.isFinite(ls)) {
                throw new InferenceException("source " + id + ": decoder_sample produced a non-finite "
                        + (Float.isFinite(lc) ? "log_scale" : "loc") + " for draw " + (j0 + i / p));
            }
            loc[i] = lc;
            t[i] = ls;
        }
        expInPlace(t, n);
        // -w: the logistic 1 / (1 + exp(-w)) takes exp(-w), and negating is exact
        for (int i = 0; i < n; i++) {
            t[i] = -(loc[i] + t[i] * eps[i]);
        }
        expInPlace(t, n);
        for (int r = 0, i = 0; r < m; r++) {
            int xo = (j0 + r) * p;
            for (int q = 0; q < p; q++, i++) {
                x[xo + q] = low[q] + (high[q] - low[q]) * (1.0 / (1.0 + t[i]));
            }
        }
    }

    /** {@code a[i] = StrictMath.exp(a[i])} for {@code i < n}, bit for bit ({@link Fdlibm#expInPlace}). */
    private static void expInPlace(double[] a, int n) {
        Fdlibm.expInPlace(a, n);
    }

    /** One run of {@code decoder_sample} on the first {@code m} rows of the workspace. */
    private void runDecoder(String id, SamplerWorkspace ws, int m) {
        String role = ModelBundle.ROLE_DECODER_SAMPLE;
        try {
            ws.decoderRuns.forRows(m).run(decoder, 0, "source " + id, role);
        } catch (OrtException ex) {
            throw new InferenceException("source " + id + ": ONNX Runtime failed in " + role + ": "
                    + ex.getMessage(), ex);
        }
    }
}
