package org.xpcvae.gaiaxp;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * One row of an XP continuous product: a source's BP and RP solutions, or why the row cannot be
 * calibrated (a band missing, as the archive delivers sources observed in one photometer only, or
 * a malformed value). Immutable.
 */
public final class XpContinuousRecord {
    private final String sourceId;
    private final long rowIndex;
    private final long lineNumber;
    private final Map<Band, BandSolution> bands;
    private final List<Band> missing;
    private final String error;

    private XpContinuousRecord(String sourceId, long rowIndex, long lineNumber, Map<Band, BandSolution> bands,
                               List<Band> missing, String error) {
        this.sourceId = sourceId;
        this.rowIndex = rowIndex;
        this.lineNumber = lineNumber;
        this.bands = bands;
        this.missing = missing;
        this.error = error;
    }

    /** A row with both bands. */
    public static XpContinuousRecord of(String sourceId, long rowIndex, long lineNumber, BandSolution bp,
                                        BandSolution rp) {
        if (bp == null || rp == null || bp.band() != Band.BP || rp.band() != Band.RP) {
            throw new IllegalArgumentException("source " + sourceId + ": expected a BP and an RP solution");
        }
        Map<Band, BandSolution> bands = new EnumMap<>(Band.class);
        bands.put(Band.BP, bp);
        bands.put(Band.RP, rp);
        return new XpContinuousRecord(sourceId, rowIndex, lineNumber, Collections.unmodifiableMap(bands),
                Collections.emptyList(), null);
    }

    /** A row without coefficients for the {@code missing} bands (not empty). */
    public static XpContinuousRecord lacking(String sourceId, long rowIndex, long lineNumber, List<Band> missing) {
        if (missing.isEmpty()) {
            throw new IllegalArgumentException("source " + sourceId + ": no band is missing");
        }
        return new XpContinuousRecord(sourceId, rowIndex, lineNumber, Collections.emptyMap(),
                Collections.unmodifiableList(new ArrayList<>(missing)), null);
    }

    /** A row that could not be read; {@code message} names the source and the problem. */
    public static XpContinuousRecord invalid(String sourceId, long rowIndex, long lineNumber, String message) {
        return new XpContinuousRecord(sourceId, rowIndex, lineNumber, Collections.emptyMap(),
                Collections.emptyList(), message);
    }

    /** The row's source_id ({@code row<i>} if the file has none, as the Python reader names it). */
    public String sourceId() {
        return sourceId;
    }

    /** 0-based data row number. */
    public long rowIndex() {
        return rowIndex;
    }

    /** 1-based line number in a text file; 0 for formats without lines (FITS) or where the reader does not know it. */
    public long lineNumber() {
        return lineNumber;
    }

    /** Whether both bands are present and valid, so that the row can be calibrated. */
    public boolean ok() {
        return error == null && missing.isEmpty();
    }

    /** Why the row could not be read (names the source), or null; a missing band is not an error here. */
    public String error() {
        return error;
    }

    /** The bands the row has no coefficients for (empty for a valid row or an error row). */
    public List<Band> missingBands() {
        return missing;
    }

    /** The band's solution; null unless {@link #ok()}. */
    public BandSolution band(Band band) {
        return bands.get(band);
    }

    @Override
    public String toString() {
        return "XpContinuousRecord(" + rowIndex + ", " + sourceId + ", "
                + (error != null ? error : missing.isEmpty() ? "ok" : "missing " + missing) + ")";
    }
}
