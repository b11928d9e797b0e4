package org.xpcvae;

import java.io.IOException;

/** A CSV file cannot be read at all (no header line, required columns missing, duplicate columns). */
public class CsvFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    /** @param message names the file and the problem */
    public CsvFormatException(String message) {
        super(message);
    }
}
