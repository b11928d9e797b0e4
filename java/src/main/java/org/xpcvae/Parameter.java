package org.xpcvae;

import java.util.Objects;

/**
 * One physical parameter with its prior support {@code [low, high]} (mirrors
 * {@code xpcvae.params.Parameter}; read from the bundle's manifest). Immutable.
 */
public final class Parameter {
    private final String name;
    private final String symbol;
    private final String unit;
    private final double low;
    private final double high;
    private final String description;

    /**
     * @param name        the name (a summary CSV column prefix)
     * @param symbol      the symbol (for plots)
     * @param unit        the unit
     * @param low         the lower bound of the prior box
     * @param high        the upper bound of the prior box (greater than low)
     * @param description what the parameter is
     */
    public Parameter(String name, String symbol, String unit, double low, double high, String description) {
        this.name = Objects.requireNonNull(name, "name");
        this.symbol = Objects.requireNonNull(symbol, "symbol");
        this.unit = Objects.requireNonNull(unit, "unit");
        this.description = Objects.requireNonNull(description, "description");
        if (!(Double.isFinite(low) && Double.isFinite(high) && low < high)) {
            throw new IllegalArgumentException("parameter " + name + ": bounds [" + low + ", " + high
                    + "] are not finite with low < high");
        }
        this.low = low;
        this.high = high;
    }

    /** The name, as in the summary CSV's column names. */
    public String name() {
        return name;
    }

    /** The symbol. */
    public String symbol() {
        return symbol;
    }

    /** The unit. */
    public String unit() {
        return unit;
    }

    /** The lower bound of the prior box. */
    public double low() {
        return low;
    }

    /** The upper bound of the prior box. */
    public double high() {
        return high;
    }

    /** What the parameter is. */
    public String description() {
        return description;
    }

    /** {@code low + (high - low) * u}: maps the unit interval onto the prior support. */
    public double fromUnit(double u) {
        return low + (high - low) * u;
    }

    /** Whether {@code value} lies in {@code [low, high]}. */
    public boolean contains(double value) {
        return value >= low && value <= high;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Parameter)) {
            return false;
        }
        Parameter p = (Parameter) o;
        return name.equals(p.name) && symbol.equals(p.symbol) && unit.equals(p.unit)
                && Double.compare(low, p.low) == 0 && Double.compare(high, p.high) == 0
                && description.equals(p.description);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, symbol, unit, low, high, description);
    }

    @Override
    public String toString() {
        return name + " [" + low + ", " + high + "] " + unit;
    }
}
