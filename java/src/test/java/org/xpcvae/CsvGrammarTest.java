package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The shared spectra-CSV grammar cases ({@code tests/data/csv-grammar/cases.json}) through the
 * Java reader: every case must give exactly the outcome written in the file (docs/formats.md,
 * "Spectra CSV grammar"). {@code tests/test_csv_grammar.py} runs the same cases through the
 * Python reader.
 */
public class CsvGrammarTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final Pattern TOKEN = Pattern.compile("\\\\x([0-9a-fA-F]{2})|\\\\\\\\|\\{H\\}|\\{repeat:([0-9]+):(.)\\}",
            Pattern.DOTALL);

    /** The corpus file, found from the working directory (java/ under Gradle) upwards. */
    static Path corpus() {
        for (Path d = Paths.get("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve("tests").resolve("data").resolve("csv-grammar").resolve("cases.json");
            if (Files.exists(p)) {
                return p;
            }
        }
        throw new AssertionError("tests/data/csv-grammar/cases.json not found above " + Paths.get("").toAbsolutePath());
    }

    /** A case's file (the corpus' "format.file" notation). */
    static byte[] caseBytes(String text, String header) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Matcher m = TOKEN.matcher(text);
        int pos = 0;
        while (m.find()) {
            out.writeBytes(text.substring(pos, m.start()).getBytes(StandardCharsets.UTF_8));
            if (m.group(1) != null) {
                out.write(Integer.parseInt(m.group(1), 16));
            } else if (m.group().equals("\\\\")) {
                out.write('\\');
            } else if (m.group().equals("{H}")) {
                out.writeBytes(header.getBytes(StandardCharsets.UTF_8));
            } else {
                out.writeBytes(m.group(3).repeat(Integer.parseInt(m.group(2))).getBytes(StandardCharsets.UTF_8));
            }
            pos = m.end();
        }
        out.writeBytes(text.substring(pos).getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    /** A value as the corpus writes it: hex float, nan, inf, or a decimal exact in float32. */
    static float expectedFloat(String text) {
        double d = text.equals("nan") ? Double.NaN : text.equals("inf") ? Double.POSITIVE_INFINITY
                : text.equals("-inf") ? Double.NEGATIVE_INFINITY : Double.parseDouble(text);
        float f = (float) d;
        assertTrue("corpus value " + text + " is not exact in float32", Double.isNaN(d) || f == d);
        return f;
    }

    private static void assertSameFloats(String what, JsonArray want, float[] got) {
        assertEquals(what, want.size(), got.length);
        for (int i = 0; i < got.length; i++) {
            float w = expectedFloat(want.get(i).getAsString());
            // bit for bit, NaN included (every nan is the one quiet NaN, rule 14)
            assertEquals(what + "[" + i + "] = " + got[i] + ", expected " + w, Float.floatToRawIntBits(w),
                    Float.floatToRawIntBits(got[i]));
        }
    }

    @Test
    public void everyCaseGivesTheWrittenOutcome() throws IOException {
        JsonObject doc = JsonParser.parseString(new String(Files.readAllBytes(corpus()), StandardCharsets.US_ASCII))
                .getAsJsonObject();
        int n = doc.get("n_wave").getAsInt();
        String header = doc.get("header").getAsString();
        JsonArray cases = doc.getAsJsonArray("cases");
        assertTrue(cases.size() >= 60);
        List<String> failures = new ArrayList<>();
        for (JsonElement e : cases) {
            JsonObject c = e.getAsJsonObject();
            String name = c.get("name").getAsString();
            try {
                check(c, n, header);
            } catch (AssertionError | IOException | RuntimeException x) {
                failures.add(name + ": " + x);
            }
        }
        assertTrue(failures.size() + " of " + cases.size() + " cases failed:\n" + String.join("\n", failures),
                failures.isEmpty());
    }

    private void check(JsonObject c, int n, String header) throws IOException {
        Path f = tmp.newFile().toPath();
        Files.write(f, caseBytes(c.get("file").getAsString(), header));
        if (c.has("file_error")) {
            try {
                SpectraCsv.readAll(f, n);
                fail("no file error");
            } catch (CsvFormatException x) {
                assertEquals(f + ": " + c.get("file_error").getAsString(), x.getMessage());
            }
            return;
        }
        List<SpectraCsv.Row> rows = SpectraCsv.readAll(f, n);
        JsonArray want = c.getAsJsonArray("rows");
        assertEquals("rows " + rows, want.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            SpectraCsv.Row got = rows.get(i);
            JsonObject w = want.get(i).getAsJsonObject();
            assertEquals(i, got.rowIndex());
            assertEquals(w.get("source_id").getAsString(), got.sourceId());
            if (w.has("error")) {
                assertEquals(w.get("error").getAsString(), got.error());
                assertNull(got.spectrum());
            } else {
                assertNull(got.error(), got.error());
                assertSameFloats("flux", w.getAsJsonArray("flux"), got.spectrum().flux());
                assertSameFloats("flux_error", w.getAsJsonArray("flux_error"), got.spectrum().fluxError());
                assertEquals(got.sourceId(), got.spectrum().sourceId());
            }
        }
    }
}
