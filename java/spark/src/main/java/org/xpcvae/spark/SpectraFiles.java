package org.xpcvae.spark;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The driver's view of the job's input: a Parquet table, or spectra files read by the library's
 * readers ({@code org.xpcvae.gaiaxp.SpectrumSources}: the Gaia archive's XP products, continuous
 * or sampled, CSV/ECSV/FITS, the gzipped bulk files, and the project CSV), listed here and handed
 * to the tasks one file at a time ({@link FileInference}).
 */
final class SpectraFiles {
    /** How the input is read ({@code --input-format}). */
    enum Format {
        /** Parquet when the path looks like Parquet ({@link #looksLikeParquet}), else spectra files. */
        AUTO,
        /** A Parquet table (file or directory) of the documented schema ({@link InputSchema}). */
        PARQUET,
        /** Spectra files (Gaia archive XP products or the project CSV): a file, a directory of them, or a glob. */
        FILES;

        static Format parse(String text) {
            try {
                return valueOf(text.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("input format must be auto, parquet or files, got '" + text + "'");
            }
        }
    }

    private SpectraFiles() {
    }

    /**
     * Whether {@code input} is a Parquet table: its name ends in {@code .parquet}, or it is a
     * directory holding a {@code .parquet} file or Spark's {@code _SUCCESS} marker.
     */
    static boolean looksLikeParquet(String input, Configuration conf) {
        String name = input.replaceAll("/+$", "").toLowerCase(Locale.ROOT);
        if (name.endsWith(".parquet")) {
            return true;
        }
        Path p = new Path(input);
        try {
            FileSystem fs = p.getFileSystem(conf);
            if (!fs.exists(p) || !fs.getFileStatus(p).isDirectory()) {
                return false;
            }
            for (FileStatus s : fs.listStatus(p)) {
                String n = s.getPath().getName();
                if (n.equals("_SUCCESS") || n.toLowerCase(Locale.ROOT).endsWith(".parquet")) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look at the input " + input, e);
        }
    }

    /**
     * The spectra files of {@code input}, sorted: the file itself, the files of a directory (not
     * its sub-directories; names starting with {@code _} or {@code .} are skipped), or the matches
     * of a glob ({@code hdfs:///gaia/xp/XpContinuousMeanSpectrum_*.csv.gz}).
     *
     * @throws IllegalArgumentException if there is no such file
     */
    static List<String> list(String input, Configuration conf) {
        Path p = new Path(input);
        List<String> files = new ArrayList<>();
        try {
            FileSystem fs = p.getFileSystem(conf);
            FileStatus[] matches = fs.globStatus(p);
            if (matches == null || matches.length == 0) {
                throw new IllegalArgumentException("input " + input + ": no such file");
            }
            for (FileStatus m : matches) {
                if (!m.isDirectory()) {
                    files.add(m.getPath().toString());
                    continue;
                }
                for (FileStatus s : fs.listStatus(m.getPath())) {
                    String n = s.getPath().getName();
                    if (s.isFile() && !n.startsWith("_") && !n.startsWith(".")) {
                        files.add(s.getPath().toString());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the input " + input, e);
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("input " + input + ": no spectra files in it");
        }
        String[] sorted = files.toArray(new String[0]);
        Arrays.sort(sorted);
        return Arrays.asList(sorted);
    }
}
