package org.xpcvae;

import java.io.IOException;

/**
 * An output file that cannot be written. The message says which file (what it is and its path),
 * what failed and why in words, e.g. {@code cannot write the summary CSV out/s.csv: cannot create
 * a file in out: permission denied}; the cause is the file system's exception.
 */
public final class OutputException extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed, on which file and why
     * @param cause   the underlying exception, or null
     */
    public OutputException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Why a file system operation failed, in words ("permission denied", "no space left on
     * device"), without the exception's class name or the file, which the caller names.
     *
     * @param e the exception of the file system
     * @return the reason in lower case
     */
    static String reason(IOException e) {
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof java.nio.file.NotDirectoryException) {
            return "not a directory";
        }
        if (e instanceof java.nio.file.FileAlreadyExistsException) {
            return "a file of that name already exists";
        }
        if (e instanceof java.nio.file.DirectoryNotEmptyException) {
            return "it is a directory that is not empty";
        }
        String text = e instanceof java.nio.file.FileSystemException
                ? ((java.nio.file.FileSystemException) e).getReason() : e.getMessage();
        if (text == null || text.isEmpty()) {
            return "input/output error";
        }
        return Character.toLowerCase(text.charAt(0)) + text.substring(1);
    }
}
