package org.zccp;

/**
 * Thrown by a {@link RequestHandler} to answer with an error reply carrying
 * this code (e.g. {@code busy}) and reason. Any other exception from a
 * handler is answered with the code {@code device-error}.
 */
public class DeviceException extends Exception {
    private static final long serialVersionUID = 1L;
    private final String code;

    public DeviceException(String code, String reason) {
        super(reason);
        this.code = code;
    }

    public String code() {
        return code;
    }
}
