package org.zccp;

/** Base of every error this library reports. */
public class ZccpException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ZccpException(String message) {
        super(message);
    }

    public ZccpException(String message, Throwable cause) {
        super(message, cause);
    }
}
