package org.xpcvae;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.util.List;

import org.xpcvae.SourceDraws.EncoderOutputs;

/**
 * The two per-spectrum graphs of a sampler, {@code r1_encoder} and {@code decoder_context}, run on
 * the spectra of a call in batches of up to {@link PosteriorSampler#ENCODER_CHUNK} (see
 * {@link PosteriorSampler#sampleWithKeys} for why a spectrum's outputs do not depend on its batch),
 * their outputs checked to be finite.
 *
 * <p>Thread-safe: a call's state lives on the stack and in its {@link SamplerWorkspace}.
 */
final class SpectrumEncoder {
    private final OrtSession encoder;
    private final OrtSession contextGraph;
    private final int components;
    private final int latent;
    private final int contextSize;

    /** The encoder of {@code bundle}, given its opened {@code r1_encoder} and {@code decoder_context}. */
    SpectrumEncoder(ModelBundle bundle, OrtSession encoder, OrtSession contextGraph) {
        this.encoder = encoder;
        this.contextGraph = contextGraph;
        this.components = bundle.mixtureComponents();
        this.latent = bundle.latentSize();
        this.contextSize = bundle.contextSize();
    }

    /**
     * Runs {@code r1_encoder} and then {@code decoder_context} on the spectra of a call, up to
     * {@link #PosteriorSampler.ENCODER_CHUNK} spectra per run (one [m, 343] batch from 64-byte aligned memory), the
     * outputs written into the workspace's buffers.
     */
    EncoderOutputs[] encode(List<Spectrum> spectra, SamplerWorkspace ws) {
        EncoderOutputs[] out = new EncoderOutputs[spectra.size()];
        int kl = components * latent;
        for (int c0 = 0; c0 < out.length; c0 += PosteriorSampler.ENCODER_CHUNK) {
            int m = Math.min(PosteriorSampler.ENCODER_CHUNK, out.length - c0);
            ws.flux.clear();
            ws.fluxError.clear();
            for (int i = 0; i < m; i++) {
                Spectrum s = spectra.get(c0 + i);
                s.putFlux(ws.flux);
                s.putFluxError(ws.fluxError);
            }
            String ids = m == 1 ? spectra.get(c0).sourceId()
                    : spectra.get(c0).sourceId() + " .. " + spectra.get(c0 + m - 1).sourceId() + " (a batch of " + m + ")";
            String role = ModelBundle.ROLE_R1_ENCODER;
            try {
                BoundTensors b = ws.encoderRuns.forRows(m);
                b.run(encoder, 0, "source " + ids, role);
                role = ModelBundle.ROLE_DECODER_CONTEXT;
                b.run(contextGraph, 1, "source " + ids, role);
            } catch (OrtException ex) {
                throw new InferenceException("source " + ids + ": ONNX Runtime failed in " + role + ": "
                        + ex.getMessage(), ex);
            }
            for (int i = 0; i < m; i++) {
                EncoderOutputs e = new EncoderOutputs();
                e.logits = floats(ws.mixLogits, i, components);
                e.mean = floats(ws.mixMean, i, kl);
                e.logStd = floats(ws.mixLogStd, i, kl);
                e.context = floats(ws.contextOut, i, contextSize);
                out[c0 + i] = e;
            }
            for (int i = 0; i < m; i++) {
                EncoderOutputs e = out[c0 + i];
                String id = spectra.get(c0 + i).sourceId();
                requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_logits", e.logits);
                requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_mean", e.mean);
                requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_log_std", e.logStd);
                requireFinite(id, ModelBundle.ROLE_DECODER_CONTEXT, "context", e.context);
            }
        }
        return out;
    }

    /** Row {@code row} of {@code n} floats of a bound output buffer, copied out. */
    private static float[] floats(FloatBuffer b, int row, int n) {
        float[] a = new float[n];
        b.position(row * n);
        b.get(a);
        return a;
    }

    private static void requireFinite(String id, String role, String name, float[] a) {
        for (float v : a) {
            if (!Float.isFinite(v)) {
                throw new InferenceException("source " + id + ": " + role + " produced a non-finite " + name
                        + " (" + v + ")");
            }
        }
    }
}
