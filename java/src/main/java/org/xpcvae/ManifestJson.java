package org.xpcvae;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.xpcvae.ModelBundle.DEFAULT_BOUND_FRACTION;
import static org.xpcvae.ModelBundle.DEFAULT_GOF_SYSTEMATIC;
import static org.xpcvae.ModelBundle.DEFAULT_GOF_THRESHOLD;
import static org.xpcvae.ModelBundle.MANIFEST;
import static org.xpcvae.ModelBundle.PARAMETERS;
import static org.xpcvae.ModelBundle.PARAMETER_NAMES;

/**
 * Typed access to the keys of a bundle manifest's JSON object, and the parsing of its sections
 * ({@code parameters}, {@code goodness_of_fit}), each error a {@link BundleException} naming the
 * bundle and the key, in the Python reader's words. Used by {@link ModelBundle#load}, which decides
 * what a manifest must contain.
 */
final class ManifestJson {
    private final String where;
    private final JsonObject m;

    ManifestJson(String where, JsonObject m) {
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

    static JsonElement parse(String where, byte[] manifest) {
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

    /** Whether {@code e} is a JSON number written as an integer (no fraction, no exponent), as Python's json reads an int. */
    static boolean isJsonInteger(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()
                && e.getAsString().matches("-?[0-9]+");
    }

    /** numpy.isclose's test (the Python reader's comparison of the prior bounds). */
    static boolean isClose(double a, double b) {
        return Math.abs(a - b) <= 1e-8 + 1e-5 * Math.abs(b);
    }

    static String textField(String where, JsonObject o, String key, String what) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new BundleException(where + ": " + what + " lacks string key '" + key + "'");
        }
        return e.getAsString();
    }

    static List<Parameter> parseParameters(String where, JsonArray array) {
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

    static double number(String where, JsonObject o, String key, String what) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new BundleException(where + ": " + what + " lacks number '" + key + "'");
        }
        return e.getAsDouble();
    }

    /**
     * {@code goodness_of_fit}: systematic, threshold, dof, bound_fraction (each optional, the
     * defaults of xpcvae.forward.gof where absent; the whole object optional).
     */
    static double[] parseGof(String where, JsonElement e, int spectrumLength) {
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

    /**
     * {@code files}: the path (inside the bundle directory, an existing file) and SHA-256 of the
     * graph of each role of {@link ModelBundle#ROLES} and of each optional role the manifest names,
     * in that order, put into {@code files} and {@code sums}.
     */
    static void graphFiles(String where, Path directory, JsonObject filesJson, Map<String, Path> files,
                           Map<String, String> sums) {
        Path base = directory.toAbsolutePath().normalize();
        List<String> roles = new ArrayList<>(ModelBundle.ROLES);
        for (String role : ModelBundle.OPTIONAL_ROLES) {
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
    }
}
