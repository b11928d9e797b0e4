package org.xpcvae.gaiaxp;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a table holds, told by its column names as the Python reader tells it
 * ({@code xpcvae.xpdata._kind}): the project CSV, an XP continuous or an XP sampled product.
 */
enum Layout {
    /** The project's spectra CSV: {@code source_id, flux_0..flux_342, flux_error_0..} (docs/formats.md). */
    PROJECT,
    /** XP continuous mean spectra: basis-function coefficients per band. */
    CONTINUOUS,
    /** XP sampled mean spectra: {@code flux} and {@code flux_error} arrays. */
    SAMPLED;

    /** A column of the project layout: {@code flux_<i>} or {@code flux_error_<i>}. */
    private static final Pattern PROJECT_COLUMN = Pattern.compile("flux_(error_)?[0-9]+");

    /**
     * The layout of a table with {@code columns}: the project layout for {@code source_id} and
     * {@code flux_0} (as the Python reader decides), and also for any {@code flux_<i>} column, so
     * that a damaged project CSV gets the project reader's message naming what it lacks.
     *
     * @throws SpectraFileException naming the file and its first columns if it is none of them
     */
    static Layout of(List<String> columns, Path file) throws SpectraFileException {
        Set<String> c = new HashSet<>(columns);
        if (c.contains("source_id") && c.contains("flux_0")) {
            return PROJECT;
        }
        for (String name : columns) {
            if (PROJECT_COLUMN.matcher(name).matches()) {
                return PROJECT;
            }
        }
        if (c.contains("bp_coefficients") || c.contains("rp_coefficients")) {
            return CONTINUOUS;
        }
        if (c.contains("flux") && c.contains("flux_error")) {
            return SAMPLED;
        }
        StringBuilder shown = new StringBuilder();
        for (String name : columns.subList(0, Math.min(8, columns.size()))) {
            // a control character in a column name (a binary file) shown as \xNN, as the Python engine does
            StringBuilder escaped = new StringBuilder();
            name.codePoints().forEach(cp -> escaped.append(cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)
                    ? String.format("\\x%02x", cp) : new String(Character.toChars(cp))));
            shown.append(shown.length() == 0 ? "" : ", ").append(escaped);
        }
        shown.append(columns.size() > 8 ? ", ..." : "");
        throw new SpectraFileException(file + ": not a recognised XP spectra layout (columns: " + shown
                + "); expected Gaia archive XP continuous (bp_coefficients, rp_coefficients, ...), XP sampled (flux, "
                + "flux_error arrays) or the project CSV (source_id, flux_0..flux_342, flux_error_0..flux_error_342; "
                + "docs/formats.md)");
    }
}
