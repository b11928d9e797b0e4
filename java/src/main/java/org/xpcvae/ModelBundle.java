package org.xpcvae;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A validated model bundle (format {@code xpcvae-bundle}, version 2; docs/sampling.md): the
 * manifest's contents, verified against {@code manifest.json.sha256} before it was parsed, and
 * the paths of the three ONNX graphs and of the optional {@code forward_model} graph, whose
 * SHA-256 checksums have been verified against the manifest, and the settings of the goodness of
 * fit ({@code goodness_of_fit}, defaults when absent). Where the Python reader
 * ({@code xpcvae.bundle.ModelBundle}) refuses the same bundle, it says so in the same words.
 * Immutable and thread-safe; opens no native resources (see {@link PosteriorSampler} and
 * {@link GoodnessOfFit} for that).
 */
public final class ModelBundle {

    /** The manifest's {@code format}. */
    public static final String FORMAT = "xpcvae-bundle";
    /**
     * The manifest's {@code format_version} this reader supports: 2, random streams keyed by source
     * id and the manifest covered by {@link #CHECKSUM_FILE}. Format 1 (streams keyed by row number)
     * is refused with {@link #format1Message}.
     */
    public static final int FORMAT_VERSION = 2;
    /** File name of the manifest in the bundle directory. */
    public static final String MANIFEST = "manifest.json";
    /** The manifest's SHA-256 in {@code sha256sum} format ({@code <64 hex digits>  manifest.json}), checked first. */
    public static final String CHECKSUM_FILE = "manifest.json.sha256";
    /** Number of wavelengths of a spectrum (336, 338, ..., 1020 nm). */
    public static final int SPECTRUM_LENGTH = 343;
    /** The manifest's {@code posterior_family}, the only one supported. */
    public static final String POSTERIOR_FAMILY = "logit-normal";

    /** Role of the graph from a spectrum to the Gaussian-mixture posterior of the latent z. */
    public static final String ROLE_R1_ENCODER = "r1_encoder";
    /** Role of the graph from a spectrum to the decoder's context vector. */
    public static final String ROLE_DECODER_CONTEXT = "decoder_context";
    /** Role of the graph from (context, z) to the logit-normal location and log-scale. */
    public static final String ROLE_DECODER_SAMPLE = "decoder_sample";
    /** The graph roles in {@code files}, in the order they run. */
    public static final List<String> ROLES =
            Collections.unmodifiableList(Arrays.asList(ROLE_R1_ENCODER, ROLE_DECODER_CONTEXT, ROLE_DECODER_SAMPLE));
    /** The forward model at given parameters (docs/formats.md; used by {@link GoodnessOfFit}). */
    public static final String ROLE_FORWARD_MODEL = "forward_model";
    /** Roles a bundle may have in {@code files}; a bundle without them is complete. */
    public static final List<String> OPTIONAL_ROLES = Collections.singletonList(ROLE_FORWARD_MODEL);

    /** Default {@code goodness_of_fit.systematic}: fractional model-error floor (xpcvae.forward.gof.GOF_SYSTEMATIC). */
    public static final double DEFAULT_GOF_SYSTEMATIC = 0.01;
    /** Default {@code goodness_of_fit.threshold}: gof_chi2 above it flags the row (xpcvae.forward.gof.GOF_THRESHOLD). */
    public static final double DEFAULT_GOF_THRESHOLD = 25.0;
    /** Default {@code goodness_of_fit.bound_fraction} (xpcvae.forward.gof.BOUND_FRACTION). */
    public static final double DEFAULT_BOUND_FRACTION = 0.01;

    /**
     * The parameter space every bundle must describe, in order (xpcvae.params.PARAMETERS, which the
     * parity tests compare it with): a manifest whose names or prior bounds differ is refused, since
     * the networks only know the box they were trained in.
     */
    public static final List<Parameter> PARAMETERS = Collections.unmodifiableList(Arrays.asList(
            new Parameter("teff", "Teff", "K", 3000.0, 7000.0, "effective temperature"),
            new Parameter("logg", "log g", "dex", 2.5, 5.0, "surface gravity, log10 of g in cm s^-2"),
            new Parameter("mh", "[M/H]", "dex", -0.5, 1.0, "metallicity"),
            new Parameter("log_mdot", "log Mdot", "dex(Msun/yr)", -11.0, -4.52, "log10 mass accretion rate in Msun/yr"),
            new Parameter("ff", "ff", "", 0.0, 0.3, "filling factor of the accretion columns on the stellar surface"),
            new Parameter("mass", "M", "Msun", 0.25, 1.3, "stellar mass"),
            new Parameter("a0", "A0", "mag", 0.0, 10.0, "extinction at 541.4 nm (Gaia DR3 convention)")));

    /** Parameter names, in the order every bundle and CSV file uses (those of {@link #PARAMETERS}). */
    public static final List<String> PARAMETER_NAMES = Collections.unmodifiableList(
            Arrays.asList(PARAMETERS.stream().map(Parameter::name).toArray(String[]::new)));

    /** Keys every manifest must have. */
    public static final List<String> REQUIRED_KEYS = Collections.unmodifiableList(Arrays.asList(
            "format", "format_version", "parameters", "wavelength_nm", "latent_size", "mixture_components",
            "context_size", "posterior_family", "rng", "draws_per_sample", "onnx_opset", "files", "input",
            "provenance", "metrics"));

    private final Path directory;
    private final List<Parameter> parameters;
    private final double[] wavelength;
    private final int latentSize;
    private final int mixtureComponents;
    private final int contextSize;
    private final int drawsPerSample;
    private final int onnxOpset;
    private final Map<String, Path> files;
    private final Map<String, String> sha256;
    private final String input;
    private final String provenanceJson;
    private final String metricsJson;
    private final double gofSystematic;
    private final double gofThreshold;
    private final int gofDof;
    private final double boundFraction;

    private ModelBundle(Path directory, List<Parameter> parameters, double[] wavelength, int latentSize,
                        int mixtureComponents, int contextSize, int drawsPerSample, int onnxOpset,
                        Map<String, Path> files, Map<String, String> sha256, String input,
                        String provenanceJson, String metricsJson, double[] gof) {
        this.directory = directory;
        this.parameters = parameters;
        this.wavelength = wavelength;
        this.latentSize = latentSize;
        this.mixtureComponents = mixtureComponents;
        this.contextSize = contextSize;
        this.drawsPerSample = drawsPerSample;
        this.onnxOpset = onnxOpset;
        this.files = files;
        this.sha256 = sha256;
        this.input = input;
        this.provenanceJson = provenanceJson;
        this.metricsJson = metricsJson;
        this.gofSystematic = gof[0];
        this.gofThreshold = gof[1];
        this.gofDof = (int) gof[2];
        this.boundFraction = gof[3];
    }

    /**
     * Reads {@code directory/manifest.json}, verifies it against {@code manifest.json.sha256}
     * before parsing it, validates it and checks the SHA-256 of every graph (the optional
     * {@code forward_model} too, when {@code files} names it).
     *
     * @throws BundleException naming the bundle directory and the problem
     */
    public static ModelBundle load(Path directory) {
        final String where = "bundle " + directory;
        if (!Files.isDirectory(directory)) {
            throw new BundleException(where + ": not a directory");
        }
        JsonElement root = ManifestJson.parse(where, BundleChecksums.verifiedManifestBytes(directory));
        if (!root.isJsonObject()) {
            throw new BundleException(where + ": " + MANIFEST + " is not a JSON object");
        }
        JsonObject m = root.getAsJsonObject();
        ManifestJson j = new ManifestJson(where, m);

        // format and version first: a newer bundle should say so, not complain about keys.
        String format = j.string("format");
        if (!FORMAT.equals(format)) {
            throw new BundleException(where + ": format is '" + format + "', expected '" + FORMAT + "'");
        }
        JsonElement version = j.require("format_version");
        if (!ManifestJson.isJsonInteger(version)) {
            throw new BundleException(where + ": format_version is " + version + ", expected an integer (this"
                    + " version of xpcvae reads format_version " + FORMAT_VERSION + ")");
        }
        BigInteger v = version.getAsBigInteger();
        if (v.equals(BigInteger.ONE)) {
            throw new BundleException(format1Message(directory));
        }
        if (!v.equals(BigInteger.valueOf(FORMAT_VERSION))) {
            throw new BundleException(where + ": format_version " + v + " is not supported (this version of xpcvae"
                    + " reads format_version " + FORMAT_VERSION + ")");
        }
        List<String> missing = new ArrayList<>();
        for (String key : REQUIRED_KEYS) {
            if (!m.has(key) || m.get(key).isJsonNull()) {
                missing.add(key);
            }
        }
        if (!missing.isEmpty()) {
            throw new BundleException(where + ": " + MANIFEST + " lacks key" + (missing.size() > 1 ? "s " : " ")
                    + String.join(", ", missing));
        }

        List<Parameter> parameters = ManifestJson.parseParameters(where, j.array("parameters"));
        double[] wavelength = j.doubles("wavelength_nm");
        if (wavelength.length != SPECTRUM_LENGTH) {
            throw new BundleException(where + ": wavelength_nm has " + wavelength.length + " values, expected "
                    + SPECTRUM_LENGTH);
        }
        for (int i = 0; i < wavelength.length; i++) {
            if (!Double.isFinite(wavelength[i]) || (i > 0 && !(wavelength[i] > wavelength[i - 1]))) {
                throw new BundleException(where + ": wavelength_nm is not finite and increasing at index " + i);
            }
        }
        int latent = j.positiveInt("latent_size");
        int components = j.positiveInt("mixture_components");
        int context = j.positiveInt("context_size");
        // the random-number scheme first: it decides the counter layout checked next
        String rng = j.string("rng");
        if (CounterRng.PREVIOUS_ALGORITHMS.contains(rng)) {
            throw new BundleException(where + ": rng '" + rng + "' is an earlier random-number scheme; this version"
                    + " of xpcvae samples with '" + CounterRng.ALGORITHM + "' (one uniform per normal deviate, a"
                    + " different counter layout): re-export the bundle with `xpcvae export`");
        }
        if (!CounterRng.ALGORITHM.equals(rng)) {
            throw new BundleException(where + ": rng '" + rng + "' is not supported (expected '"
                    + CounterRng.ALGORITHM + "')");
        }
        int draws = j.positiveInt("draws_per_sample");
        int expectedDraws = 1 + latent + parameters.size();
        if (draws != expectedDraws) {
            throw new BundleException(where + ": draws_per_sample is " + draws + ", expected 1 + " + latent
                    + " + " + parameters.size() + " = " + expectedDraws + " (1 + L + P counters per draw)");
        }
        int opset = j.positiveInt("onnx_opset");
        String family = j.string("posterior_family");
        if (!POSTERIOR_FAMILY.equals(family)) {
            throw new BundleException(where + ": posterior_family '" + family + "' is not supported (expected '"
                    + POSTERIOR_FAMILY + "')");
        }

        Map<String, Path> files = new LinkedHashMap<>();
        Map<String, String> sums = new LinkedHashMap<>();
        ManifestJson.graphFiles(where, directory, j.object("files"), files, sums);
        List<String> roles = new ArrayList<>(files.keySet());
        JsonElement inputJson = m.get("input");
        String input = inputJson.isJsonPrimitive() ? inputJson.getAsString() : inputJson.toString();
        double[] gof = ManifestJson.parseGof(where, m.get("goodness_of_fit"), wavelength.length);
        ModelBundle bundle = new ModelBundle(directory, Collections.unmodifiableList(parameters), wavelength,
                latent, components, context, draws, opset, Collections.unmodifiableMap(files),
                Collections.unmodifiableMap(sums), input, m.get("provenance").toString(), m.get("metrics").toString(),
                gof);
        for (String role : roles) {
            bundle.readVerified(role, false);
        }
        return bundle;
    }
    /** {@link #load(Path)} of a directory given as a string. */
    public static ModelBundle load(String directory) {
        return load(Path.of(directory));
    }

    /**
     * The refusal of a format-1 bundle, in the Python reader's words (xpcvae.bundle.format_1_message).
     *
     * @param directory the bundle directory
     * @return the message, naming both formats and the command that upgrades the bundle
     */
    public static String format1Message(Path directory) {
        return "bundle " + directory + ": format_version 1 is an earlier bundle format (random numbers '"
                + CounterRng.ROW_KEYED_ALGORITHM + "', keyed by row number; no manifest checksum); this version of"
                + " xpcvae reads format_version " + FORMAT_VERSION + " ('" + CounterRng.ALGORITHM + "', keyed by"
                + " source id; " + CHECKSUM_FILE + "): upgrade it, networks unchanged, with the Python CLI: xpcvae"
                + " upgrade-bundle " + directory;
    }

    /**
     * The bytes of the graph of {@code role}, verified against the manifest's SHA-256 (read anew,
     * so that a file changed after {@link #load} is noticed).
     *
     * @throws BundleException on a read error or a checksum mismatch, naming the file
     */
    public byte[] readGraph(String role) {
        return readVerified(role, true);
    }

    private byte[] readVerified(String role, boolean keep) {
        return BundleChecksums.verifyGraph(directory, file(role), sha256.get(role), keep);
    }

    /** Lower-case hex SHA-256 of a file. */
    public static String sha256Hex(Path file) throws IOException {
        return BundleChecksums.sha256Hex(file);
    }

    /** The bundle directory as given to {@link #load}. */
    public Path directory() {
        return directory;
    }

    /** The parameters, in manifest order (unmodifiable). */
    public List<Parameter> parameters() {
        return parameters;
    }

    /** P, the number of parameters. */
    public int parameterCount() {
        return parameters.size();
    }

    /** The wavelength grid in nm (a copy; {@link #SPECTRUM_LENGTH} values). */
    public double[] wavelength() {
        return wavelength.clone();
    }

    /** Number of flux values a spectrum must have. */
    public int spectrumLength() {
        return wavelength.length;
    }

    /** L, the size of the latent space. */
    public int latentSize() {
        return latentSize;
    }

    /** K, the number of components of the r1 Gaussian mixture. */
    public int mixtureComponents() {
        return mixtureComponents;
    }

    /** H, the width of {@code decoder_context}'s output. */
    public int contextSize() {
        return contextSize;
    }

    /** D = 1 + L + P, counters (random numbers) reserved per posterior draw. */
    public int drawsPerSample() {
        return drawsPerSample;
    }

    /** The ONNX opset the graphs were exported with. */
    public int onnxOpset() {
        return onnxOpset;
    }

    /** Absolute path of the graph of {@code role} (one of {@link #ROLES}, or an optional role the bundle has). */
    public Path file(String role) {
        Path p = files.get(role);
        if (p == null) {
            if (OPTIONAL_ROLES.contains(role)) {
                throw new IllegalArgumentException("bundle " + directory + " has no " + role + " graph");
            }
            throw new IllegalArgumentException("unknown graph role '" + role + "', expected one of " + ROLES);
        }
        return p;
    }

    /** Whether the bundle has the graph of {@code role} (true for every role of {@link #ROLES}). */
    public boolean has(String role) {
        return files.containsKey(role);
    }

    /** Whether the bundle has the optional {@code forward_model} graph. */
    public boolean hasForwardModel() {
        return has(ROLE_FORWARD_MODEL);
    }

    /** {@code goodness_of_fit.systematic}: fractional model-error floor in the variance of gof_chi2. */
    public double gofSystematic() {
        return gofSystematic;
    }

    /** {@code goodness_of_fit.threshold}: gof_chi2 above it sets ood_flag. */
    public double gofThreshold() {
        return gofThreshold;
    }

    /** {@code goodness_of_fit.dof}: degrees of freedom gof_chi2 is divided by (default 342). */
    public int gofDof() {
        return gofDof;
    }

    /** {@code goodness_of_fit.bound_fraction}: at_bound names medians within this fraction of the box of a bound. */
    public double boundFraction() {
        return boundFraction;
    }

    /** {@link #file(String)} of {@link #ROLE_R1_ENCODER}. */
    public Path r1EncoderPath() {
        return file(ROLE_R1_ENCODER);
    }

    /** {@link #file(String)} of {@link #ROLE_DECODER_CONTEXT}. */
    public Path decoderContextPath() {
        return file(ROLE_DECODER_CONTEXT);
    }

    /** {@link #file(String)} of {@link #ROLE_DECODER_SAMPLE}. */
    public Path decoderSamplePath() {
        return file(ROLE_DECODER_SAMPLE);
    }

    /** The manifest's SHA-256 (lower-case hex) of the graph of {@code role}. */
    public String sha256(String role) {
        file(role);
        return sha256.get(role);
    }

    /** The manifest's {@code input} (description of the normalisation inside the graphs). */
    public String input() {
        return input;
    }

    /** The manifest's {@code provenance}, as JSON text. */
    public String provenanceJson() {
        return provenanceJson;
    }

    /** The manifest's {@code metrics}, as JSON text. */
    public String metricsJson() {
        return metricsJson;
    }

    @Override
    public String toString() {
        return "ModelBundle(" + directory + ", L=" + latentSize + ", K=" + mixtureComponents + ", H="
                + contextSize + ", P=" + parameters.size() + ")";
    }
}
