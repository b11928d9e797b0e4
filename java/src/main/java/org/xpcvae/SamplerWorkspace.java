package org.xpcvae;

import ai.onnxruntime.OrtEnvironment;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Direct, 64-byte aligned buffers for the graph inputs and outputs of a {@link PosteriorSampler},
 * and the arrays of the per-draw arithmetic, used by one {@code sample} call at a time and then
 * returned to the sampler's pool: no direct memory is allocated per call (direct buffers are only
 * freed by the garbage collector, and allocating them zeroes memory). The graphs' tensors are
 * created over these buffers once ({@link BoundTensors}), so ONNX Runtime reads its inputs from and
 * writes its outputs into them.
 *
 * <p>Not thread-safe: one call at a time.
 */
final class SamplerWorkspace implements AutoCloseable {
    /** Input buffers are aligned to this many bytes (ONNX Runtime's reductions depend on alignment). */
    private static final int ALIGN = 64;

    /** Inputs of the per-spectrum graphs: up to {@link PosteriorSampler#ENCODER_CHUNK} spectra. */
    final FloatBuffer flux;
    final FloatBuffer fluxError;
    /** Outputs of {@code r1_encoder}, then {@code decoder_context}'s. */
    final FloatBuffer mixLogits;
    final FloatBuffer mixMean;
    final FloatBuffer mixLogStd;
    final FloatBuffer contextOut;
    /** Most draws per {@code decoder_sample} run. */
    final int rows;
    /** Inputs and outputs of {@code decoder_sample}. */
    final FloatBuffer context;
    final FloatBuffer z;
    final FloatBuffer loc;
    final FloatBuffer logScale;
    /** A run's latent vectors, loc and log_scale as Java arrays. */
    final float[] zRow;
    final float[] locRow;
    final float[] logScaleRow;
    /** A run's loc and log_scale in double, then the transform's intermediate values (toParameters). */
    final double[] locD;
    final double[] scaleD;
    /** Standard normals of a run (latent, then parameter ones) and the uniforms they come from. */
    final double[] eps;
    final double[] uniforms;
    /**
     * Tensors over these buffers: the per-spectrum graphs' (r1_encoder's outputs, then
     * decoder_context's; the inputs shared) and decoder_sample's.
     */
    final BoundTensors.BySize encoderRuns;
    final BoundTensors.BySize decoderRuns;

    /**
     * The buffers for a bundle's sizes.
     *
     * @param env         the ONNX Runtime environment the tensors belong to
     * @param bundle      the bundle (spectrum length, K, L, H, P)
     * @param rowsPerRun  most draws per {@code decoder_sample} run
     */
    SamplerWorkspace(OrtEnvironment env, ModelBundle bundle, int rowsPerRun) {
        final int nw = bundle.spectrumLength();
        final int components = bundle.mixtureComponents();
        final int latent = bundle.latentSize();
        final int contextSize = bundle.contextSize();
        final int nParams = bundle.parameterCount();
        final int chunk = PosteriorSampler.ENCODER_CHUNK;
        flux = alignedFloats(chunk * nw);
        fluxError = alignedFloats(chunk * nw);
        mixLogits = alignedFloats(chunk * components);
        mixMean = alignedFloats(chunk * components * latent);
        mixLogStd = alignedFloats(chunk * components * latent);
        contextOut = alignedFloats(chunk * contextSize);
        rows = rowsPerRun;
        context = alignedFloats(rows * contextSize);
        z = alignedFloats(rows * latent);
        loc = alignedFloats(rows * nParams);
        logScale = alignedFloats(rows * nParams);
        zRow = new float[rows * latent];
        locRow = new float[rows * nParams];
        logScaleRow = new float[rows * nParams];
        locD = new double[rows * nParams];
        scaleD = new double[rows * nParams];
        eps = new double[rows * Math.max(latent, nParams)];
        uniforms = new double[rows * Math.max(latent, nParams)];
        encoderRuns = new BoundTensors.BySize(env, chunk, t -> t
                .input("flux", flux, t.rows(), nw)
                .input("flux_error", fluxError, t.rows(), nw)
                .addGraph()
                .output("mix_logits", mixLogits, t.rows(), components)
                .output("mix_mean", mixMean, t.rows(), components, latent)
                .output("mix_log_std", mixLogStd, t.rows(), components, latent)
                .addGraph()
                .output("context", contextOut, t.rows(), contextSize));
        decoderRuns = new BoundTensors.BySize(env, rows, t -> t
                .input("context", context, t.rows(), contextSize)
                .input("z", z, t.rows(), latent)
                .addGraph()
                .output("loc", loc, t.rows(), nParams)
                .output("log_scale", logScale, t.rows(), nParams));
    }

    private static FloatBuffer alignedFloats(int n) {
        int bytes = (n * 4 + ALIGN - 1) / ALIGN * ALIGN + ALIGN;
        return ByteBuffer.allocateDirect(bytes).alignedSlice(ALIGN).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** Closes the tensors (the buffers are freed by the garbage collector). */
    @Override
    public void close() {
        encoderRuns.close();
        decoderRuns.close();
    }
}
