package org.xpcvae.gaiaxp;

import java.util.Locale;

/**
 * The two Gaia photometers: BP (blue, about 330-680 nm) and RP (red, about 620-1050 nm). Each
 * names its columns in the archive's XP continuous product ({@code bp_coefficients}, ...).
 */
public enum Band {
    /** The blue photometer. */
    BP,
    /** The red photometer. */
    RP;

    /** Prefix of the band's archive columns: {@code bp_} or {@code rp_}. */
    public String columnPrefix() {
        return name().toLowerCase(Locale.ROOT) + "_";
    }

    /** The band's archive column {@code <prefix><name>}, e.g. {@code bp_coefficients}. */
    public String column(String name) {
        return columnPrefix() + name;
    }
}
