package org.zccp;

/**
 * Serves requests sent to this client as a device. It runs on a handler
 * thread, never on the I/O thread, so a slow handler does not stop the
 * client answering the broker's PINGs. Return the ok reply; throw
 * {@link DeviceException} for an error reply with your own code.
 */
@FunctionalInterface
public interface RequestHandler {
    Response handle(Request request) throws Exception;
}
