package org.xpcvae;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.DoubleBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The goodness of fit and out-of-distribution columns of the summary CSV (docs/formats.md),
 * computed exactly as the Python engine computes them. Their one definition, constants and
 * defaults included, is {@code python/xpcvae/forward/gof.py} ({@code xpcvae.forward.gof}); this
 * class follows it:
 *
 * <ul>
 *   <li>{@code gof_chi2}: reduced chi^2 of the forward model at the posterior median against the
 *       observed spectrum. The spectrum and its uncertainties are divided by the mean flux, the
 *       model by its own mean; the model is scaled by the weighted least-squares factor; the
 *       variance per sample is {@code flux_error^2 + (systematic * model)^2}; the sum over the 343
 *       samples is divided by {@code dof} (342). The forward model is the bundle's optional
 *       {@code forward_model} graph (float64 {@code params} [B,7] to float64 {@code flux} [B,343],
 *       normalised to mean 1), run on ONNX Runtime in batches of sources;</li>
 *   <li>{@code ood_flag}: {@code 1} when {@code gof_chi2 > threshold}, else {@code 0};</li>
 *   <li>{@code ood_reason}: {@code "gof_chi2 %.3g > %g: the model does not fit this spectrum"} for a
 *       flagged row (C/Python {@code %g} formatting), empty otherwise, or why gof_chi2 was not
 *       computed ({@link #NO_FORWARD_MODEL}, {@link #UNAVAILABLE});</li>
 *   <li>{@code at_bound}: {@code ;}-separated names of the parameters whose median lies within
 *       {@code bound_fraction} of the box width of a bound.</li>
 * </ul>
 *
 * The settings (systematic, threshold, dof, bound_fraction) are the bundle's
 * ({@link ModelBundle#gofSystematic()} etc.). A bundle without the {@code forward_model} graph
 * still works: gof_chi2 and ood_flag are then empty and ood_reason says so.
 *
 * <p>Thread-safe like {@link PosteriorSampler}: every call keeps its state on the stack and
 * ONNX Runtime sessions may be run concurrently; do not {@link #close()} while threads use it.
 */
public final class GoodnessOfFit implements AutoCloseable {

    /** The columns appended to the summary, in order. */
    public static final List<String> COLUMNS =
            Collections.unmodifiableList(Arrays.asList("gof_chi2", "ood_flag", "ood_reason", "at_bound"));
    /** The Java type of each of {@link #COLUMNS} in typed outputs (ECSV): gof_chi2 float64, ood_flag int16. */
    public static final Map<String, Class<?>> TYPES = Map.of("gof_chi2", Double.class, "ood_flag", Short.class,
            "ood_reason", String.class, "at_bound", String.class);
    /** What each of {@link #COLUMNS} holds (xpcvae.forward.gof.DESCRIPTIONS, the same text). */
    public static final Map<String, String> DESCRIPTIONS = Map.of(
            "gof_chi2", "reduced chi^2 of the forward model at the posterior median against the spectrum; "
                    + "empty when not computed (see ood_reason)",
            "ood_flag", "1 when gof_chi2 exceeds the bundle's threshold: the spectrum lies outside what the model "
                    + "was trained on, do not trust the posterior; 0 otherwise; empty when not computed",
            "ood_reason", "why the row is flagged, or why gof_chi2 was not computed; empty otherwise",
            "at_bound", "parameters whose posterior median lies within bound_fraction of the prior box width of "
                    + "a bound, separated by ;");
    /** ood_reason of an ok row when the bundle has no {@code forward_model} graph. */
    public static final String NO_FORWARD_MODEL = "goodness of fit not computed (bundle has no forward model)";
    /** ood_reason of an ok row whose forward model could not be evaluated (as the Python engine writes it). */
    public static final String UNAVAILABLE = "goodness of fit not computed (forward model unavailable)";
    /** Input name of the {@code forward_model} graph. */
    public static final String INPUT = "params";
    /** Output name of the {@code forward_model} graph. */
    public static final String OUTPUT = "flux";
    /** Most sources per run of the forward graph (its fine-grid intermediates are ~60 kB per source). */
    static final int MAX_BATCH = 256;
    /**
     * Every run holds a multiple of this many rows (the sources, then copies of the box's centre):
     * ONNX Runtime computes the elements of a tensor left over after its last full SIMD packet
     * with scalar functions, which differ in the last bit from the vectorised ones, so without
     * the padding a source's model would depend on how many sources share its run. The packet
     * holds 2 doubles in ONNX Runtime 1.29/1.32's builds (SSE2 Eigen; measured), 8 would be the
     * most on AVX-512: 8 rows cover both. The graph's other operations are row by row (its means
     * are MatMuls; xpcvae.export.forward_graph.ROW_GROUP).
     */
    static final int ROW_GROUP = 8;

    /** The four column values of one ok row. Immutable. */
    public static final class Result {
        private final double chi2;
        private final boolean flagged;
        private final String reason;
        private final String atBound;

        Result(double chi2, boolean flagged, String reason, String atBound) {
            this.chi2 = chi2;
            this.flagged = flagged;
            this.reason = reason;
            this.atBound = atBound;
        }

        /** gof_chi2, NaN when it was not computed. */
        public double chi2() {
            return chi2;
        }

        /** Whether gof_chi2 was computed (it is NaN otherwise). */
        public boolean computed() {
            return !Double.isNaN(chi2);
        }

        /** ood_flag. */
        public boolean flagged() {
            return flagged;
        }

        /** ood_reason (empty for an unflagged row). */
        public String reason() {
            return reason;
        }

        /** at_bound. */
        public String atBound() {
            return atBound;
        }

        /** The values of {@link #COLUMNS}: gof_chi2 with {@link Double#toString(double)}, empty when not computed. */
        public List<String> columns() {
            if (!computed()) {
                return Arrays.asList("", "", reason, atBound);
            }
            return Arrays.asList(Double.toString(chi2), flagged ? "1" : "0", reason, atBound);
        }

        @Override
        public String toString() {
            return "GoodnessOfFit.Result" + columns();
        }
    }

    private final ModelBundle bundle;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final OrtEnvironment env;
    /** Null without a forward model. */
    private final OrtSessions sessions;
    private final OrtSession session;
    private final int nw;
    private final int nParams;
    private final double[] low;
    private final double[] high;
    private final double[] centre;
    private final List<String> names;

    /** {@link #GoodnessOfFit(ModelBundle, int)} with one ONNX Runtime intra-op thread. */
    public GoodnessOfFit(ModelBundle bundle) {
        this(bundle, 1);
    }

    /**
     * Opens the bundle's {@code forward_model} graph, if it has one.
     *
     * @throws BundleException if the graph cannot be read, fails its checksum, cannot be loaded
     *                         by ONNX Runtime or has other inputs/outputs than {@code params}
     *                         double [B,7] and {@code flux} double [B,343]
     */
    public GoodnessOfFit(ModelBundle bundle, int intraOpThreads) {
        this.bundle = Objects.requireNonNull(bundle, "bundle");
        if (intraOpThreads < 1) {
            throw new IllegalArgumentException("intra-op threads must be >= 1, got " + intraOpThreads);
        }
        this.nw = bundle.spectrumLength();
        this.nParams = bundle.parameterCount();
        this.low = new double[nParams];
        this.high = new double[nParams];
        List<String> n = new ArrayList<>();
        for (int p = 0; p < nParams; p++) {
            Parameter par = bundle.parameters().get(p);
            low[p] = par.low();
            high[p] = par.high();
            n.add(par.name());
        }
        this.names = Collections.unmodifiableList(n);
        this.centre = new double[nParams];
        for (int p = 0; p < nParams; p++) {
            centre[p] = 0.5 * (low[p] + high[p]);
        }
        if (!bundle.hasForwardModel()) {
            this.env = null;
            this.sessions = null;
            this.session = null;
            return;
        }
        this.sessions = OrtSessions.create(bundle, intraOpThreads, OrtSession.SessionOptions.OptLevel.ALL_OPT);
        this.env = sessions.environment();
        try {
            this.session = sessions.open(ModelBundle.ROLE_FORWARD_MODEL);
            checkIo("bundle " + bundle.directory() + ": " + bundle.file(ModelBundle.ROLE_FORWARD_MODEL).getFileName(),
                    session);
        } catch (OrtException e) {
            sessions.closeAfter(e);
            throw new BundleException("bundle " + bundle.directory() + ": ONNX Runtime cannot load "
                    + bundle.file(ModelBundle.ROLE_FORWARD_MODEL).getFileName() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            sessions.closeAfter(e);
            throw e;
        }
    }

    /** Loads the bundle in {@code directory} and opens its forward model. */
    public static GoodnessOfFit open(Path directory) {
        return new GoodnessOfFit(ModelBundle.load(directory));
    }

    private void checkIo(String where, OrtSession s) throws OrtException {
        Map<String, NodeInfo> in = s.getInputInfo();
        Map<String, NodeInfo> out = s.getOutputInfo();
        if (in.size() != 1 || !in.containsKey(INPUT)) {
            throw new BundleException(where + " has inputs " + in.keySet() + ", expected [" + INPUT + "]");
        }
        checkNode(where, "input", INPUT, in.get(INPUT), nParams);
        if (!out.containsKey(OUTPUT)) {
            throw new BundleException(where + " has no output '" + OUTPUT + "' (it has " + out.keySet() + ")");
        }
        checkNode(where, "output", OUTPUT, out.get(OUTPUT), nw);
    }

    private static void checkNode(String where, String kind, String name, NodeInfo info, int width) {
        boolean ok = info.getInfo() instanceof TensorInfo;
        long[] shape = ok ? ((TensorInfo) info.getInfo()).getShape() : new long[0];
        ok = ok && ((TensorInfo) info.getInfo()).type == OnnxJavaType.DOUBLE && shape.length == 2
                && shape[1] == width;
        if (!ok) {
            throw new BundleException(where + ": " + kind + " '" + name + "' is " + info.getInfo()
                    + ", expected DOUBLE [batch, " + width + "]");
        }
    }

    /** The bundle whose forward model this evaluates. */
    public ModelBundle bundle() {
        return bundle;
    }

    /** Whether gof_chi2 is computed (the bundle has a {@code forward_model} graph). */
    public boolean hasForwardModel() {
        return session != null;
    }

    /**
     * The forward model (each row normalised to mean 1) at the parameter vectors {@code params}
     * (rows of P values in the bundle's order and units, inside the prior box), in runs of up to
     * {@value #MAX_BATCH} rows, each padded to a multiple of {@value #ROW_GROUP} rows: a row's
     * result does not depend on the other rows, bit for bit (single intra-op thread).
     *
     * @throws IllegalStateException    if the bundle has no forward model or this is closed
     * @throws IllegalArgumentException if a row has the wrong length or lies outside the box
     * @throws InferenceException       if ONNX Runtime fails
     */
    public double[][] modelSpectra(double[][] params) {
        checkOpen();
        if (session == null) {
            throw new IllegalStateException(NO_FORWARD_MODEL);
        }
        for (int i = 0; i < params.length; i++) {
            checkInBox(i, params[i]);
        }
        double[][] out = new double[params.length][];
        for (int c0 = 0; c0 < params.length; c0 += MAX_BATCH) {
            int m = Math.min(MAX_BATCH, params.length - c0);
            int rows = (m + ROW_GROUP - 1) / ROW_GROUP * ROW_GROUP;
            double[] flat = new double[rows * nParams];
            for (int i = 0; i < rows; i++) {
                System.arraycopy(i < m ? params[c0 + i] : centre, 0, flat, i * nParams, nParams);
            }
            double[] flux = run(flat, rows);
            for (int i = 0; i < m; i++) {
                out[c0 + i] = Arrays.copyOfRange(flux, i * nw, (i + 1) * nw);
            }
        }
        return out;
    }

    private void checkInBox(int row, double[] theta) {
        if (theta.length != nParams) {
            throw new IllegalArgumentException("row " + row + " has " + theta.length + " parameters, expected "
                    + nParams);
        }
        for (int p = 0; p < nParams; p++) {
            if (!(theta[p] >= low[p] && theta[p] <= high[p])) {
                throw new IllegalArgumentException("row " + row + ": " + names.get(p) + " = " + theta[p]
                        + " is outside the prior box [" + low[p] + ", " + high[p] + "]");
            }
        }
    }

    private double[] run(double[] flat, int m) {
        OnnxTensor in = null;
        try {
            in = OnnxTensor.createTensor(env, DoubleBuffer.wrap(flat), new long[]{m, nParams});
            OnnxTensor input = in;
            return NativeRuns.JVM.run(() -> modelFlux(input, m));
        } catch (OrtException e) {
            throw new InferenceException("ONNX Runtime failed in " + ModelBundle.ROLE_FORWARD_MODEL + ": "
                    + e.getMessage(), e);
        } finally {
            if (in != null) {
                in.close();
            }
        }
    }

    /** One run of the forward-model graph on {@code in} ({@code m} rows): the model fluxes, row-major. */
    private double[] modelFlux(OnnxTensor in, int m) throws OrtException {
        try (OrtSession.Result r = session.run(Collections.singletonMap(INPUT, in))) {
            OnnxValue v = r.get(OUTPUT).orElseThrow(() ->
                    new InferenceException(ModelBundle.ROLE_FORWARD_MODEL + " returned no '" + OUTPUT + "'"));
            if (!(v instanceof OnnxTensor)) {
                throw new InferenceException(ModelBundle.ROLE_FORWARD_MODEL + " output is not a tensor");
            }
            OnnxTensor t = (OnnxTensor) v;
            long[] shape = t.getInfo().getShape();
            if (t.getInfo().type != OnnxJavaType.DOUBLE || shape.length != 2 || shape[0] != m || shape[1] != nw) {
                throw new InferenceException(ModelBundle.ROLE_FORWARD_MODEL + " output is " + t.getInfo().type
                        + " " + Arrays.toString(shape) + ", expected DOUBLE [" + m + ", " + nw + "]");
            }
            DoubleBuffer b = t.getDoubleBuffer();
            double[] out = new double[m * nw];
            b.get(out);
            return out;
        }
    }

    /**
     * The four columns of each (summary, spectrum) pair, the forward model run once for all of
     * them (in runs of up to {@value #MAX_BATCH}). A row whose forward model cannot be evaluated
     * (median outside the box, non-finite model) gets {@link #UNAVAILABLE}; an ONNX Runtime
     * failure gives {@link #UNAVAILABLE} to every row.
     */
    public List<Result> evaluate(List<PosteriorSummary> summaries, List<Spectrum> spectra) {
        checkOpen();
        if (summaries.size() != spectra.size()) {
            throw new IllegalArgumentException(summaries.size() + " summaries but " + spectra.size() + " spectra");
        }
        int n = summaries.size();
        double[][] medians = new double[n][];
        String[] bounds = new String[n];
        for (int i = 0; i < n; i++) {
            PosteriorSummary q = summaries.get(i);
            if (!q.parameters().equals(bundle.parameters())) {
                throw new IllegalArgumentException("summary of " + q.sourceId() + " has other parameters");
            }
            medians[i] = new double[nParams];
            for (int p = 0; p < nParams; p++) {
                medians[i][p] = q.median(p);
            }
            bounds[i] = atBound(medians[i], low, high, bundle.boundFraction(), names);
        }
        Result[] out = new Result[n];
        if (session == null) {
            for (int i = 0; i < n; i++) {
                out[i] = new Result(Double.NaN, false, NO_FORWARD_MODEL, bounds[i]);
            }
            return Collections.unmodifiableList(Arrays.asList(out));
        }
        List<Integer> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            try {
                checkInBox(i, medians[i]);
                rows.add(i);
            } catch (IllegalArgumentException e) {
                out[i] = new Result(Double.NaN, false, UNAVAILABLE, bounds[i]);
            }
        }
        double[][] models = null;
        if (!rows.isEmpty()) {
            double[][] theta = new double[rows.size()][];
            for (int k = 0; k < theta.length; k++) {
                theta[k] = medians[rows.get(k)];
            }
            try {
                models = modelSpectra(theta);
            } catch (InferenceException e) {
                models = null;
            }
        }
        for (int k = 0; k < rows.size(); k++) {
            int i = rows.get(k);
            double chi2 = Double.NaN;
            if (models != null) {
                Spectrum s = spectra.get(i);
                chi2 = reducedChi2(s.flux(), s.fluxError(), models[k], bundle.gofSystematic(), bundle.gofDof());
            }
            out[i] = result(chi2, bounds[i], bundle.gofThreshold());
        }
        return Collections.unmodifiableList(Arrays.asList(out));
    }

    /** {@link #evaluate(List, List)} of one source. */
    public Result evaluate(PosteriorSummary summary, Spectrum spectrum) {
        return evaluate(Collections.singletonList(summary), Collections.singletonList(spectrum)).get(0);
    }

    /** The columns of an ok row whose goodness of fit could not be computed ({@link #UNAVAILABLE}). */
    public Result unavailable(PosteriorSummary summary) {
        double[] median = new double[nParams];
        for (int p = 0; p < nParams; p++) {
            median[p] = summary.median(p);
        }
        return new Result(Double.NaN, false, UNAVAILABLE, atBound(median, low, high, bundle.boundFraction(), names));
    }

    /** The columns of an ok row given its gof_chi2 (NaN: not computed) -- xpcvae.forward.gof.ood_columns. */
    static Result result(double chi2, String atBound, double threshold) {
        if (!Double.isFinite(chi2)) {
            return new Result(Double.NaN, false, UNAVAILABLE, atBound);
        }
        boolean flag = chi2 > threshold;
        String reason = flag ? "gof_chi2 " + formatG(chi2, 3) + " > " + formatG(threshold, 6)
                + ": the model does not fit this spectrum" : "";
        return new Result(chi2, flag, reason, atBound);
    }

    /**
     * Reduced chi^2 of {@code model} against the observed {@code flux} with {@code fluxError}:
     * the operations of xpcvae.forward.gof.reduced_chi2, in double. NaN if the model's mean is not
     * positive or a value is not finite.
     */
    public static double reducedChi2(float[] flux, float[] fluxError, double[] model, double systematic, int dof) {
        int w = flux.length;
        if (fluxError.length != w || model.length != w) {
            throw new IllegalArgumentException("flux, flux_error and model differ in length");
        }
        double sumF = 0.0;
        double sumM = 0.0;
        for (int i = 0; i < w; i++) {
            sumF += flux[i];
            sumM += model[i];
        }
        double meanF = sumF / w;
        double meanM = sumM / w;
        if (!(meanM > 0.0) || !Double.isFinite(meanM)) {
            return Double.NaN;
        }
        double[] o = new double[w];
        double[] m = new double[w];
        double[] var = new double[w];
        double num = 0.0;
        double den = 0.0;
        for (int i = 0; i < w; i++) {
            o[i] = flux[i] / meanF;
            double s = fluxError[i] / meanF;
            m[i] = model[i] / meanM;
            double sm = systematic * m[i];
            var[i] = s * s + sm * sm;
            num += o[i] * m[i] / var[i];
            den += m[i] * m[i] / var[i];
        }
        double scale = num / den;
        double chi = 0.0;
        for (int i = 0; i < w; i++) {
            double r = o[i] - scale * m[i];
            chi += r * r / var[i];
        }
        double out = chi / dof;
        return Double.isFinite(out) ? out : Double.NaN;
    }

    /** at_bound: xpcvae.forward.gof.at_bound. */
    static String atBound(double[] median, double[] low, double[] high, double fraction, List<String> names) {
        StringBuilder sb = new StringBuilder();
        for (int p = 0; p < median.length; p++) {
            double width = high[p] - low[p];
            if (median[p] - low[p] <= fraction * width || high[p] - median[p] <= fraction * width) {
                if (sb.length() > 0) {
                    sb.append(';');
                }
                sb.append(names.get(p));
            }
        }
        return sb.toString();
    }

    /**
     * {@code v} formatted like C's (and Python's) {@code %.<precision>g}: correctly rounded to
     * {@code precision} significant digits (half to even), fixed notation when the decimal
     * exponent X satisfies -4 &lt;= X &lt; precision, else {@code d.ddde+XX}; trailing zeros and
     * a trailing point removed.
     */
    static String formatG(double v, int precision) {
        if (Double.isNaN(v)) {
            return "nan";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        if (v == 0.0) {
            return (1.0 / v < 0) ? "-0" : "0";
        }
        int p = Math.max(precision, 1);
        BigDecimal bd = new BigDecimal(v).round(new MathContext(p, RoundingMode.HALF_EVEN));
        int exponent = bd.precision() - bd.scale() - 1;
        if (exponent < -4 || exponent >= p) {
            String digits = bd.unscaledValue().abs().toString().replaceAll("0+$", "");
            StringBuilder sb = new StringBuilder();
            if (bd.signum() < 0) {
                sb.append('-');
            }
            sb.append(digits.charAt(0));
            if (digits.length() > 1) {
                sb.append('.').append(digits, 1, digits.length());
            }
            int a = Math.abs(exponent);
            sb.append('e').append(exponent < 0 ? '-' : '+').append(a < 10 ? "0" : "").append(a);
            return sb.toString();
        }
        String plain = bd.toPlainString();
        if (plain.indexOf('.') >= 0) {
            plain = plain.replaceAll("0+$", "");
            if (plain.endsWith(".")) {
                plain = plain.substring(0, plain.length() - 1);
            }
        }
        return plain;
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("the goodness-of-fit evaluator is closed");
        }
    }

    /**
     * Closes the session (idempotent); a no-op without a forward model.
     *
     * @throws InferenceException if ONNX Runtime fails to close the session
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || sessions == null) {
            return;
        }
        sessions.close();
    }

    @Override
    public String toString() {
        return "GoodnessOfFit(" + bundle + (session == null ? ", no forward model)" : ")");
    }
}
