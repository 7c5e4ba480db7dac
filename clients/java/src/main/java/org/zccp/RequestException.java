package org.zccp;

/**
 * A request that ended without an ok reply: the device (or the broker on
 * its behalf) answered an error, or no final reply came in time (code
 * {@code timeout}). {@link #reply()} is the error reply, null for a timeout.
 */
public class RequestException extends ZccpException {
    private static final long serialVersionUID = 1L;
    /** Code of a request that got no final reply within its timeout. */
    public static final String TIMEOUT = "timeout";
    private final String code;
    private final transient Reply reply;

    RequestException(String code, String reason, Reply reply) {
        super(code + ": " + reason);
        this.code = code;
        this.reply = reply;
    }

    /** The error code: the reply's {@code zccp-error}, or {@link #TIMEOUT}. */
    public String code() {
        return code;
    }

    /** The error reply, or null when none came. */
    public Reply reply() {
        return reply;
    }
}
