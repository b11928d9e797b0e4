package org.xpcvae;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
    private static final Pattern CHECKSUM_LINE =
            Pattern.compile("([0-9a-fA-F]{64}) [ *]manifest\\.json\n?");
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
        JsonElement root = parse(where, verifiedManifestBytes(directory));
        if (!root.isJsonObject()) {
            throw new BundleException(where + ": " + MANIFEST + " is not a JSON object");
        }
        JsonObject m = root.getAsJsonObject();
        Manifest j = new Manifest(where, m);

        // format and version first: a newer bundle should say so, not complain about keys.
        String format = j.string("format");
        if (!FORMAT.equals(format)) {
            throw new BundleException(where + ": format is '" + format + "', expected '" + FORMAT + "'");
        }
        JsonElement version = j.require("format_version");
        if (!isJsonInteger(version)) {
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

        List<Parameter> parameters = parseParameters(where, j.array("parameters"));
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

        JsonObject filesJson = j.object("files");
        Map<String, Path> files = new LinkedHashMap<>();
        Map<String, String> sums = new LinkedHashMap<>();
        Path base = directory.toAbsolutePath().normalize();
        List<String> roles = new ArrayList<>(ROLES);
        for (String role : OPTIONAL_ROLES) {
            JsonElement e = filesJson.get(role);
            if (e != null && !e.isJsonNull()) {
                roles.add(role);
            }
        }
        for (String role : roles) {
            JsonElement e = filesJson.get(role);
            if (e == null || !e.isJsonObject()) {
                throw new BundleException(where + ": files lacks role '" + role + "'");
            }
            JsonObject f = e.getAsJsonObject();
            String rel = textField(where, f, "path", "files." + role);
            String sum = textField(where, f, "sha256", "files." + role).toLowerCase(Locale.ROOT);
            if (!sum.matches("[0-9a-f]{64}")) {
                throw new BundleException(where + ": files." + role + ".sha256 is not a SHA-256 hex digest");
            }
            Path path = base.resolve(rel).normalize();
            if (!path.startsWith(base)) {
                throw new BundleException(where + ": files." + role + ".path '" + rel
                        + "' points outside the bundle");
            }
            if (!Files.isRegularFile(path)) {
                throw new BundleException(where + ": " + rel + " (" + role + ") is missing");
            }
            files.put(role, path);
            sums.put(role, sum);
        }
        JsonElement inputJson = m.get("input");
        String input = inputJson.isJsonPrimitive() ? inputJson.getAsString() : inputJson.toString();
        double[] gof = parseGof(where, m.get("goodness_of_fit"), wavelength.length);
        ModelBundle bundle = new ModelBundle(directory, Collections.unmodifiableList(parameters), wavelength,
                latent, components, context, draws, opset, Collections.unmodifiableMap(files),
                Collections.unmodifiableMap(sums), input, m.get("provenance").toString(), m.get("metrics").toString(),
                gof);
        for (String role : roles) {
            bundle.readVerified(role, false);
        }
        return bundle;
    }

    /**
     * {@code goodness_of_fit}: systematic, threshold, dof, bound_fraction (each optional, the
     * defaults of xpcvae.forward.gof where absent; the whole object optional).
     */
    private static double[] parseGof(String where, JsonElement e, int spectrumLength) {
        double[] out = {DEFAULT_GOF_SYSTEMATIC, DEFAULT_GOF_THRESHOLD, spectrumLength - 1, DEFAULT_BOUND_FRACTION};
        if (e == null || e.isJsonNull()) {
            return out;
        }
        if (!e.isJsonObject()) {
            throw new BundleException(where + ": goodness_of_fit is not an object");
        }
        JsonObject o = e.getAsJsonObject();
        String[] keys = {"systematic", "threshold", "dof", "bound_fraction"};
        for (int k = 0; k < keys.length; k++) {
            JsonElement v = o.get(keys[k]);
            if (v == null || v.isJsonNull()) {
                continue;
            }
            boolean ok = v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber();
            double x = ok ? v.getAsDouble() : Double.NaN;
            ok = ok && Double.isFinite(x);
            if (keys[k].equals("dof")) {
                ok = ok && x == Math.rint(x) && x >= 1 && x <= spectrumLength;
            } else if (keys[k].equals("threshold")) {
                ok = ok && x > 0;
            } else {
                ok = ok && x >= 0 && x < 1;
            }
            if (!ok) {
                throw new BundleException(where + ": goodness_of_fit." + keys[k] + " = " + v + " is not valid");
            }
            out[k] = x;
        }
        return out;
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

    private static byte[] readManifestBytes(String where, Path directory) {
        try {
            return Files.readAllBytes(directory.resolve(MANIFEST));
        } catch (NoSuchFileException e) {
            throw new BundleException(where + ": " + MANIFEST + " is missing");
        } catch (IOException e) {
            throw new BundleException(where + ": cannot read " + MANIFEST + ": " + OutputException.reason(e), e);
        }
    }

    private static JsonElement parse(String where, byte[] manifest) {
        try {
            CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
            return JsonParser.parseString(utf8.decode(ByteBuffer.wrap(manifest)).toString());
        } catch (CharacterCodingException e) {
            throw new BundleException(where + ": " + MANIFEST + " is not valid JSON: not UTF-8 text", e);
        } catch (JsonParseException e) {
            throw new BundleException(where + ": " + MANIFEST + " is not valid JSON: " + jsonReason(e), e);
        }
    }

    /**
     * Gson's account of a syntax error in words: where it is ("Unterminated string at line 4 column
     * 147 path $.description"), without the exception class names Gson puts in its messages, its
     * advice to parse leniently or its troubleshooting link.
     */
    static String jsonReason(JsonParseException e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause().getMessage() != null) {
            t = t.getCause();
        }
        String text = t.getMessage() == null ? "" : t.getMessage();
        text = text.split("\n", 2)[0]
                .replaceAll("(?:[A-Za-z_$][\\w$]*\\.)+[A-Za-z_$][\\w$]*(?:Exception|Error): ", "")
                .replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON")
                .replace("Use JsonReader.setLenient(true) to accept malformed JSON", "malformed JSON")
                .trim();
        return text.isEmpty() ? "malformed JSON" : text;
    }

    /**
     * The bytes of the manifest, checked against {@link #CHECKSUM_FILE} before anything parses
     * them. Without the checksum file, a manifest that reads as format 1 (which has none) gets
     * {@link #format1Message}; nothing else is taken from an unverified manifest.
     */
    private static byte[] verifiedManifestBytes(Path directory) {
        String where = "bundle " + directory;
        byte[] manifest = readManifestBytes(where, directory);
        byte[] line;
        try {
            line = Files.readAllBytes(directory.resolve(CHECKSUM_FILE));
        } catch (NoSuchFileException e) {
            if (isFormat1(manifest)) {
                throw new BundleException(format1Message(directory));
            }
            throw new BundleException(where + ": " + CHECKSUM_FILE + " is missing: the manifest cannot be verified"
                    + " (copy the bundle again from where it came from, or re-export it)");
        } catch (IOException e) {
            throw new BundleException(where + ": cannot read " + CHECKSUM_FILE + ": " + e, e);
        }
        Matcher match = CHECKSUM_LINE.matcher(new String(line, StandardCharsets.ISO_8859_1));
        if (!match.matches()) {
            throw new BundleException(where + ": " + CHECKSUM_FILE + " is not a sha256sum line for " + MANIFEST
                    + " ('<64 hex digits>  " + MANIFEST + "')");
        }
        String expected = match.group(1).toLowerCase(Locale.ROOT);
        String actual = hex(newSha256().digest(manifest));
        if (!actual.equals(expected)) {
            throw new BundleException(where + ": checksum mismatch for " + MANIFEST + " (" + CHECKSUM_FILE + " "
                    + expected + ", file " + actual + "): the manifest was changed after export");
        }
        return manifest;
    }

    private static boolean isFormat1(byte[] manifest) {
        try {
            JsonElement e = parse("", manifest);
            if (!e.isJsonObject()) {
                return false;
            }
            JsonElement format = e.getAsJsonObject().get("format");
            JsonElement version = e.getAsJsonObject().get("format_version");
            return format != null && format.isJsonPrimitive() && format.getAsJsonPrimitive().isString()
                    && FORMAT.equals(format.getAsString()) && isJsonInteger(version)
                    && version.getAsBigInteger().equals(BigInteger.ONE);
        } catch (BundleException notJson) {
            return false;
        }
    }

    /** Whether {@code e} is a JSON number written as an integer (no fraction, no exponent), as Python's json reads an int. */
    private static boolean isJsonInteger(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()
                && e.getAsString().matches("-?[0-9]+");
    }

    /** numpy.isclose's test (the Python reader's comparison of the prior bounds). */
    private static boolean isClose(double a, double b) {
        return Math.abs(a - b) <= 1e-8 + 1e-5 * Math.abs(b);
    }

    private static String textField(String where, JsonObject o, String key, String what) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new BundleException(where + ": " + what + " lacks string key '" + key + "'");
        }
        return e.getAsString();
    }

    private static List<Parameter> parseParameters(String where, JsonArray array) {
        List<Parameter> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            JsonElement e = array.get(i);
            if (!e.isJsonObject()) {
                throw new BundleException(where + ": parameters[" + i + "] is not an object");
            }
            JsonObject o = e.getAsJsonObject();
            String what = "parameters[" + i + "]";
            String name = textField(where, o, "name", what);
            String symbol = textField(where, o, "symbol", what);
            String unit = textField(where, o, "unit", what);
            String description = textField(where, o, "description", what);
            double low = number(where, o, "low", what);
            double high = number(where, o, "high", what);
            try {
                out.add(new Parameter(name, symbol, unit, low, high, description));
            } catch (IllegalArgumentException ex) {
                throw new BundleException(where + ": " + ex.getMessage(), ex);
            }
        }
        List<String> names = new ArrayList<>();
        for (Parameter p : out) {
            names.add(p.name());
        }
        if (!names.equals(PARAMETER_NAMES)) {
            throw new BundleException(where + ": parameters " + names + " do not match " + PARAMETER_NAMES);
        }
        for (int i = 0; i < out.size(); i++) {
            Parameter got = out.get(i);
            Parameter want = PARAMETERS.get(i);
            if (!(isClose(got.low(), want.low()) && isClose(got.high(), want.high()))) {
                throw new BundleException(where + ": bounds of " + want.name() + " are [" + got.low() + ", "
                        + got.high() + "], expected [" + want.low() + ", " + want.high() + "]");
            }
        }
        return out;
    }

    private static double number(String where, JsonObject o, String key, String what) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new BundleException(where + ": " + what + " lacks number '" + key + "'");
        }
        return e.getAsDouble();
    }

    /** Typed access to manifest keys with error messages naming the key. */
    private static final class Manifest {
        private final String where;
        private final JsonObject m;

        Manifest(String where, JsonObject m) {
            this.where = where;
            this.m = m;
        }

        JsonElement require(String key) {
            JsonElement e = m.get(key);
            if (e == null || e.isJsonNull()) {
                throw new BundleException(where + ": " + MANIFEST + " lacks key " + key);
            }
            return e;
        }

        String string(String key) {
            JsonElement e = require(key);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                throw new BundleException(where + ": " + key + " is not a string");
            }
            return e.getAsString();
        }

        int positiveInt(String key) {
            JsonElement e = require(key);
            try {
                if (e.isJsonPrimitive() && ((JsonPrimitive) e).isNumber()) {
                    int v = e.getAsBigDecimal().intValueExact();
                    if (v > 0) {
                        return v;
                    }
                }
            } catch (ArithmeticException ignored) {
                // not an integer: reported below
            }
            throw new BundleException(where + ": " + key + " is " + e + ", expected a positive integer");
        }

        JsonArray array(String key) {
            JsonElement e = require(key);
            if (!e.isJsonArray()) {
                throw new BundleException(where + ": " + key + " is not a list");
            }
            return e.getAsJsonArray();
        }

        JsonObject object(String key) {
            JsonElement e = require(key);
            if (!e.isJsonObject()) {
                throw new BundleException(where + ": " + key + " is not an object");
            }
            return e.getAsJsonObject();
        }

        double[] doubles(String key) {
            JsonArray a = array(key);
            double[] out = new double[a.size()];
            for (int i = 0; i < out.length; i++) {
                JsonElement e = a.get(i);
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                    throw new BundleException(where + ": " + key + "[" + i + "] is not a number");
                }
                out[i] = e.getAsDouble();
            }
            return out;
        }
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
        Path path = file(role);
        String expected = sha256.get(role);
        MessageDigest digest = newSha256();
        byte[] bytes = null;
        try {
            if (keep) {
                bytes = Files.readAllBytes(path);
                digest.update(bytes);
            } else {
                try (InputStream in = Files.newInputStream(path)) {
                    byte[] buf = new byte[1 << 16];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        digest.update(buf, 0, n);
                    }
                }
            }
        } catch (IOException e) {
            throw new BundleException("bundle " + directory + ": cannot read " + path.getFileName() + ": " + e, e);
        }
        String actual = hex(digest.digest());
        if (!actual.equals(expected)) {
            throw new BundleException("bundle " + directory + ": checksum mismatch for " + path.getFileName()
                    + " (manifest " + expected.substring(0, 12) + "..., file " + actual.substring(0, 12) + "...)");
        }
        return bytes;
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** Lower-case hex SHA-256 of a file. */
    public static String sha256Hex(Path file) throws IOException {
        MessageDigest digest = newSha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                digest.update(buf, 0, n);
            }
        }
        return hex(digest.digest());
    }

    private static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            sb.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return sb.toString();
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
