package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ModelBundleTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path copy() throws IOException {
        return TestSupport.copyBundle(tmp.newFolder("bundle").toPath());
    }

    private static String fileOf(Path dir, String role) throws IOException {
        return TestSupport.readManifest(dir).getAsJsonObject("files").getAsJsonObject(role).get("path").getAsString();
    }

    private static BundleException loadFails(Path dir, String... expectedParts) {
        try {
            ModelBundle.load(dir);
        } catch (BundleException e) {
            for (String part : expectedParts) {
                assertTrue("'" + e.getMessage() + "' should contain '" + part + "'", e.getMessage().contains(part));
            }
            assertTrue(e.getMessage(), e.getMessage().startsWith("bundle " + dir));
            return e;
        }
        fail("bundle " + dir + " should have been rejected");
        return null;
    }

    @Test
    public void loadsTheTestBundle() {
        ModelBundle b = TestSupport.bundle();
        assertEquals(ModelBundle.PARAMETER_NAMES.size(), b.parameterCount());
        for (int i = 0; i < b.parameterCount(); i++) {
            Parameter p = b.parameters().get(i);
            assertEquals(ModelBundle.PARAMETER_NAMES.get(i), p.name());
            assertTrue(p.low() < p.high());
        }
        assertEquals(3000.0, b.parameters().get(0).low(), 0.0);
        assertEquals(7000.0, b.parameters().get(0).high(), 0.0);
        double[] wl = b.wavelength();
        assertEquals(343, wl.length);
        assertEquals(336.0, wl[0], 1e-9);
        assertEquals(1020.0, wl[342], 1e-9);
        wl[0] = -1;
        assertEquals(336.0, b.wavelength()[0], 1e-9); // defensive copy
        assertEquals(1 + b.latentSize() + b.parameterCount(), b.drawsPerSample());
        assertTrue(b.mixtureComponents() >= 1 && b.contextSize() >= 1);
        for (String role : ModelBundle.ROLES) {
            assertTrue(Files.isRegularFile(b.file(role)));
            assertEquals(64, b.sha256(role).length());
        }
    }

    @Test
    public void missingDirectoryOrManifest() throws IOException {
        loadFails(tmp.getRoot().toPath().resolve("nowhere"), "not a directory");
        Path dir = copy();
        Files.delete(dir.resolve("manifest.json"));
        loadFails(dir, "manifest.json is missing");
    }

    @Test
    public void malformedManifest() throws IOException {
        Path dir = copy();
        Files.write(dir.resolve("manifest.json"), "{\"format\": \"xpcvae-bundle\", ".getBytes(StandardCharsets.UTF_8));
        loadFails(dir, "checksum mismatch for manifest.json"); // checked before it is parsed
        TestSupport.writeChecksum(dir);
        loadFails(dir, "manifest.json is not valid JSON");
        // Gson's account in words: where, without its exception class names or advice to parse leniently
        for (String text : new String[]{"not json {", "{\"description\": \"cut"}) {
            Files.write(dir.resolve("manifest.json"), text.getBytes(StandardCharsets.UTF_8));
            TestSupport.writeChecksum(dir);
            String message = loadFails(dir, "manifest.json is not valid JSON: ", "line 1 column").getMessage();
            assertFalse(message, message.contains("Exception") || message.contains("com.google")
                    || message.contains("Lenient") || message.contains("LENIENT") || message.contains("\n"));
        }
    }

    @Test
    public void wrongFormatVersion() throws IOException {
        Path dir = copy();
        TestSupport.editManifest(dir, m -> m.addProperty("format_version", 3));
        loadFails(dir, "format_version 3 is not supported (this version of xpcvae reads format_version 2)");
        TestSupport.editManifest(dir, m -> m.addProperty("format_version", "2"));
        loadFails(dir, "format_version is \"2\", expected an integer");
        TestSupport.editManifest(dir, m -> m.add("format_version", new JsonPrimitive(2.5)));
        loadFails(dir, "format_version is 2.5, expected an integer");
    }

    /**
     * A format-1 bundle (streams keyed by row number, no manifest checksum) is refused with the
     * upgrade command, with or without a checksum file.
     */
    @Test
    public void formatOneBundleIsRefusedWithTheUpgradeCommand() throws IOException {
        Path dir = copy();
        TestSupport.editManifest(dir, m -> {
            m.addProperty("format_version", 1);
            m.addProperty("rng", "splitmix64-counter-v2");
        });
        String message = "bundle " + dir + ": format_version 1 is an earlier bundle format (random numbers "
                + "'splitmix64-counter-v2', keyed by row number; no manifest checksum); this version of xpcvae reads "
                + "format_version 2 ('splitmix64-counter-v3', keyed by source id; manifest.json.sha256): upgrade it, "
                + "networks unchanged, with the Python CLI: xpcvae upgrade-bundle " + dir;
        assertEquals(message, loadFails(dir).getMessage());
        Files.delete(dir.resolve("manifest.json.sha256"));
        assertEquals(message, loadFails(dir).getMessage());
    }

    /** The manifest is verified against manifest.json.sha256 before it is read. */
    @Test
    public void manifestChecksum() throws IOException {
        Path dir = copy();
        // Teff's upper bound edited without the checksum: refused, naming both digests
        String text = new String(Files.readAllBytes(dir.resolve("manifest.json")), StandardCharsets.UTF_8);
        String edited = text.replaceFirst("\"high\": 7000(\\.0)?,", "\"high\": 7500.0,");
        assertTrue(!edited.equals(text));
        Files.write(dir.resolve("manifest.json"), edited.getBytes(StandardCharsets.UTF_8));
        String expected = ModelBundle.sha256Hex(TestSupport.bundleDir().resolve("manifest.json"));
        String actual = ModelBundle.sha256Hex(dir.resolve("manifest.json"));
        loadFails(dir, "checksum mismatch for manifest.json (manifest.json.sha256 " + expected + ", file " + actual
                + "): the manifest was changed after export");
        // with the checksum recomputed: the parameter box itself is checked
        TestSupport.writeChecksum(dir);
        loadFails(dir, "bounds of teff are [3000.0, 7500.0], expected [3000.0, 7000.0]");
        // no checksum file
        Files.delete(dir.resolve("manifest.json.sha256"));
        loadFails(dir, "manifest.json.sha256 is missing: the manifest cannot be verified");
        // not a sha256sum line
        Files.write(dir.resolve("manifest.json.sha256"), "deadbeef  manifest.json\n".getBytes(StandardCharsets.US_ASCII));
        loadFails(dir, "manifest.json.sha256 is not a sha256sum line for manifest.json");
    }

    /** sha256sum's own output (upper- or lower-case hex, text or binary mode) is accepted. */
    @Test
    public void checksumFileAsSha256sumWritesIt() throws IOException {
        Path dir = copy();
        String digest = ModelBundle.sha256Hex(dir.resolve("manifest.json"));
        for (String line : new String[]{digest + "  manifest.json\n", digest.toUpperCase(java.util.Locale.ROOT)
                + " *manifest.json", digest + "  manifest.json"}) {
            Files.write(dir.resolve("manifest.json.sha256"), line.getBytes(StandardCharsets.US_ASCII));
            assertEquals(dir, ModelBundle.load(dir).directory());
        }
    }

    /** The parameter table equals the bounds a bundle is checked against, and every bundle's parameters. */
    @Test
    public void parameterTableMatchesTheBundle() {
        assertEquals(ModelBundle.PARAMETERS, TestSupport.bundle().parameters());
    }

    @Test
    public void wrongFormat() throws IOException {
        Path dir = copy();
        TestSupport.editManifest(dir, m -> m.addProperty("format", "something-else"));
        loadFails(dir, "format is 'something-else'");
    }

    @Test
    public void missingKey() throws IOException {
        Path dir = copy();
        TestSupport.editManifest(dir, m -> m.remove("latent_size"));
        loadFails(dir, "lacks key latent_size");
        Path dir2 = TestSupport.copyBundle(tmp.newFolder("b2").toPath());
        TestSupport.editManifest(dir2, m -> {
            m.remove("metrics");
            m.remove("rng");
        });
        loadFails(dir2, "lacks keys", "rng", "metrics");
    }

    @Test
    public void inconsistentValues() throws IOException {
        Path dir = copy();
        TestSupport.editManifest(dir, m -> m.addProperty("draws_per_sample", m.get("draws_per_sample").getAsInt() + 1));
        loadFails(dir, "draws_per_sample");
        TestSupport.editManifest(dir, m -> {
            m.addProperty("draws_per_sample", m.get("draws_per_sample").getAsInt() - 1);
            m.getAsJsonArray("wavelength_nm").remove(0);
        });
        loadFails(dir, "wavelength_nm has 342 values, expected 343");
        Path dir2 = TestSupport.copyBundle(tmp.newFolder("b2").toPath());
        TestSupport.editManifest(dir2, m -> m.getAsJsonArray("parameters").get(1).getAsJsonObject().addProperty("name", "g"));
        loadFails(dir2, "parameters [teff, g, mh");
        Path dir3 = TestSupport.copyBundle(tmp.newFolder("b3").toPath());
        TestSupport.editManifest(dir3, m -> m.addProperty("rng", "mt19937"));
        loadFails(dir3, "rng 'mt19937' is not supported");
        Path dir4 = TestSupport.copyBundle(tmp.newFolder("b4").toPath());
        TestSupport.editManifest(dir4, m -> m.getAsJsonArray("parameters").get(0).getAsJsonObject()
                .addProperty("high", 7500.0));
        loadFails(dir4, "bounds of teff are [3000.0, 7500.0], expected [3000.0, 7000.0]");
    }

    /** A bundle exported for the earlier random-number scheme is refused with a hint, not sampled differently. */
    @Test
    public void previousRandomNumberSchemeIsRefusedWithAHint() throws IOException {
        Path dir = copy();
        TestSupport.editManifest(dir, m -> {
            m.addProperty("rng", "splitmix64-counter-v1");
            m.addProperty("draws_per_sample", 1 + 2 * m.get("latent_size").getAsInt() + 2 * 7);
        });
        loadFails(dir, "rng 'splitmix64-counter-v1' is an earlier random-number scheme",
                "'splitmix64-counter-v3'", "re-export the bundle with `xpcvae export`");
    }

    @Test
    public void missingGraphFile() throws IOException {
        Path dir = copy();
        String file = fileOf(dir, "decoder_context");
        Files.delete(dir.resolve(file));
        loadFails(dir, file + " (decoder_context) is missing");
    }

    @Test
    public void checksumMismatch() throws IOException {
        Path dir = copy();
        String file = fileOf(dir, "decoder_sample");
        byte[] bytes = Files.readAllBytes(dir.resolve(file));
        bytes[bytes.length / 2] ^= 0x55;
        Files.write(dir.resolve(file), bytes);
        loadFails(dir, "checksum mismatch for " + file + " (manifest ");
    }

    /**
     * A truncated graph: first a checksum mismatch; with the checksum in the manifest "fixed",
     * ONNX Runtime itself rejects it, and the error still names the file.
     */
    @Test
    public void truncatedGraph() throws IOException {
        Path dir = copy();
        String file = fileOf(dir, "decoder_sample");
        Path graph = dir.resolve(file);
        byte[] bytes = Files.readAllBytes(graph);
        Files.write(graph, Arrays.copyOf(bytes, bytes.length / 3));
        loadFails(dir, "checksum mismatch for " + file);

        String sum = ModelBundle.sha256Hex(graph);
        TestSupport.editManifest(dir, m -> m.getAsJsonObject("files").getAsJsonObject("decoder_sample").addProperty("sha256", sum));
        ModelBundle b = ModelBundle.load(dir);
        assertEquals(sum, b.sha256("decoder_sample"));
        try (PosteriorSampler s = new PosteriorSampler(b)) {
            fail("ONNX Runtime should not load a truncated graph: " + s);
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("cannot load " + file));
            assertTrue(e.getMessage(), e.getMessage().startsWith("bundle " + dir));
        }
    }

    /** A graph changed after the bundle was loaded is noticed when the sampler opens it. */
    @Test
    public void graphChangedAfterLoad() throws IOException {
        Path dir = copy();
        ModelBundle b = ModelBundle.load(dir);
        String file = fileOf(dir, "r1_encoder");
        Files.write(dir.resolve(file), new byte[]{1, 2, 3});
        try (PosteriorSampler s = new PosteriorSampler(b)) {
            fail("should have failed: " + s);
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("checksum mismatch for " + file));
        }
    }

    /** Graphs swapped between roles: the input/output check names the file. */
    @Test
    public void graphWithWrongInterface() throws IOException {
        Path dir = copy();
        String ctx = fileOf(dir, "decoder_context");
        TestSupport.editManifest(dir, m -> {
            JsonObject files = m.getAsJsonObject("files");
            JsonObject a = files.getAsJsonObject("r1_encoder");
            JsonObject c = files.getAsJsonObject("decoder_context");
            files.add("r1_encoder", c);
            files.add("decoder_context", a);
        });
        ModelBundle b = ModelBundle.load(dir);
        assertEquals(dir.toAbsolutePath().normalize().resolve(ctx), b.r1EncoderPath());
        try (PosteriorSampler s = new PosteriorSampler(b)) {
            fail("should have failed: " + s);
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(ctx + " has no output 'mix_logits'"));
        }
    }

    @Test
    public void pathOutsideBundleIsRejected() throws IOException {
        Path dir = copy();
        TestSupport.editManifest(dir, m -> m.getAsJsonObject("files").getAsJsonObject("r1_encoder")
                .addProperty("path", "../elsewhere.onnx"));
        loadFails(dir, "points outside the bundle");
    }
}
